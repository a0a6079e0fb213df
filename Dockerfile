# syntax=docker/dockerfile:1
# keysweep in a small non-root image: the static (musl) binary and git (which `keysweep ci`
# and `keysweep git` need), on Alpine.
#
#   docker build -t keysweep .                       # builds keysweep from this source
#   docker run --rm -v "$PWD:/src" keysweep dir .    # scans the current directory
#
# The release workflow passes KEYSWEEP_BINARY=prebuilt and puts the release binaries (already
# built, stripped and checksummed) in dist/docker/<arch>/keysweep, so the image carries exactly
# the binaries of the release archives and nothing is compiled twice.
ARG KEYSWEEP_BINARY=source

FROM rust:1.95-alpine AS source
RUN apk add --no-cache musl-dev
WORKDIR /build
COPY . .
RUN --mount=type=cache,target=/usr/local/cargo/registry \
    --mount=type=cache,target=/build/target \
    cargo build --release --locked --bin keysweep \
    && install -D -m 0755 target/release/keysweep /out/keysweep

FROM alpine:3.22 AS prebuilt
ARG TARGETARCH
COPY dist/docker/${TARGETARCH}/keysweep /out/keysweep

FROM ${KEYSWEEP_BINARY} AS binary

FROM alpine:3.22
RUN apk add --no-cache git ca-certificates \
    && adduser -D -H -u 10001 -s /sbin/nologin keysweep \
    # Mounted work trees belong to whoever runs the container, not to this user.
    && git config --system --add safe.directory '*'
COPY --from=binary --chmod=0755 /out/keysweep /usr/local/bin/keysweep
USER 10001:10001
WORKDIR /src
ENTRYPOINT ["/usr/local/bin/keysweep"]
CMD ["--help"]
