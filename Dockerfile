# Multi-stage build: the same static binary `make build` produces
# (CGO_ENABLED=0, -trimpath, -ldflags "-s -w -X …Version"), in a small
# non-root final image.
FROM golang:1.26-bookworm AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
ARG VERSION=dev
RUN make build VERSION=${VERSION}

FROM gcr.io/distroless/static-debian12:nonroot
COPY --from=build /src/bin/fluxgate /usr/local/bin/fluxgate
COPY --from=build /src/bin/upstream /usr/local/bin/upstream
COPY --from=build /src/config/config.yaml /etc/fluxgate/config.yaml
ENV GATEWAY_CONFIG_PATH=/etc/fluxgate/config.yaml
USER nonroot:nonroot
EXPOSE 8080
STOPSIGNAL SIGTERM
ENTRYPOINT ["/usr/local/bin/fluxgate"]
CMD ["run"]
