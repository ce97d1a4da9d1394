# One released action's image: its cross-compiled binaries on a base that
# has only what the action needs (build args: BASE_IMAGE; TARGETOS and
# TARGETARCH as the build action and BuildKit set them). Nothing runs during
# the build, so every platform builds on any engine. The root Dockerfile
# stays for development (uses: ./actions/NAME builds it).
ARG BASE_IMAGE=gcr.io/distroless/static-debian12
FROM ${BASE_IMAGE}
ARG TARGETOS=linux
ARG TARGETARCH=amd64
COPY dist/${TARGETOS}_${TARGETARCH}/ /opt/gantry/actions/
COPY vulndb/ /opt/gantry/vulndb/
ENV GOTOOLCHAIN=local
ENTRYPOINT ["/opt/gantry/actions/dispatch"]
