# One image for every Gantry action; the first argument picks the action.
#
# On github.com:   docker build .      (golang and debian images are pulled)
# Here (offline):  docker build --build-arg GO_IMAGE=... or build the binaries
#                  on the host into dist/ and use --build-arg PREBUILT=1.
ARG GO_IMAGE=golang:1.26-bookworm
ARG BASE_IMAGE=debian:bookworm-slim
ARG PREBUILT=0

FROM ${GO_IMAGE} AS build-0
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
RUN mkdir -p /out && CGO_ENABLED=0 go build -trimpath -o /out/ ./actions/...

FROM ${BASE_IMAGE} AS build-1
COPY dist/actions/ /out/

FROM build-${PREBUILT} AS build

FROM ${BASE_IMAGE}
COPY --from=build /out/ /usr/local/bin/
COPY scripts/action-entrypoint.sh /usr/local/bin/gantry-action
ENTRYPOINT ["/usr/local/bin/gantry-action"]
