# One image for every Gantry action; the first argument picks the action
# (build, test, ...). The actions run the Go toolchain, so the runtime image
# is a Go image.
#
# On github.com the defaults pull golang:1.26-bookworm. Where no registry
# answers, pass local images and binaries built on the host into dist/actions:
#   --build-arg GO_IMAGE=gantry/golang:1.26 --build-arg RUNTIME_IMAGE=gantry/golang:1.26 --build-arg PREBUILT=1
ARG GO_IMAGE=golang:1.26-bookworm
ARG RUNTIME_IMAGE=golang:1.26-bookworm

FROM ${GO_IMAGE} AS build
ARG PREBUILT=0
WORKDIR /src
COPY . .
RUN mkdir -p /out && if [ "$PREBUILT" = 1 ]; then cp dist/actions/* /out/; \
    else CGO_ENABLED=0 go build -trimpath -o /out/ ./actions/...; fi
# A Go vulnerability database in the context's vulndb/ folder (vuln.go.dev
# layout) is baked in for the scan action's offline use.
RUN mkdir -p /vulndb && if [ -f vulndb/index/db.json ]; then cp -r vulndb/. /vulndb/; fi

FROM ${RUNTIME_IMAGE}
ENV GOTOOLCHAIN=local
COPY --from=build /out/ /opt/gantry/actions/
COPY --from=build /vulndb/ /opt/gantry/vulndb/
ENTRYPOINT ["/opt/gantry/actions/dispatch"]
