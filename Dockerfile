# cashpool's image: the one static binary on distroless (no shell, no package manager, CA
# certificates included; time zones are embedded in the binary), run as a numeric non-root user.
# Build it with `make image`.

# The build stage runs exactly `make build`'s command (a test in deploy/ holds the two together).
# .git is part of the build context so that Go stamps the commit for `cashpool version`.
FROM golang:1.26-bookworm AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
RUN CGO_ENABLED=0 go build -trimpath -buildvcs=auto -o bin/cashpool ./cmd/cashpool

FROM gcr.io/distroless/static-debian12:nonroot
COPY --from=build /src/bin/cashpool /usr/local/bin/cashpool
# Numeric, so that Kubernetes' runAsNonRoot can check it (65532 is distroless' nonroot).
USER 65532:65532
EXPOSE 8080
ENTRYPOINT ["/usr/local/bin/cashpool"]
CMD ["--help"]
