# Walkie container image. First start writes /data/config.yaml and stops;
# the second writes /data/registration.yaml and stops; later starts run the
# service (see docker/run.sh).
#
#   docker build -t walkie .
#   docker run --rm -v walkie-data:/data walkie

FROM golang:1.26-bookworm AS builder
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
ARG VERSION=dev
ARG COMMIT=unknown
ARG BUILD_TIME=unknown
RUN CGO_ENABLED=0 go build -trimpath \
	-ldflags "-X main.Version=${VERSION} \
		-X main.Commit=${COMMIT} \
		-X main.BuildTime=${BUILD_TIME}" \
	-o /out/walkie ./cmd/walkie

FROM debian:bookworm-slim
# ca-certificates: the homeserver and PostgreSQL may be reached over TLS.
RUN apt-get update \
	&& apt-get install -y --no-install-recommends ca-certificates \
	&& rm -rf /var/lib/apt/lists/* \
	&& useradd --system --uid 1337 --user-group --home-dir /data --no-create-home walkie \
	&& mkdir /data \
	&& chown walkie:walkie /data
COPY --from=builder /out/walkie /usr/local/bin/walkie
COPY docker/run.sh /usr/local/bin/docker-run.sh
USER walkie
WORKDIR /data
VOLUME /data
ENTRYPOINT ["/usr/local/bin/docker-run.sh"]
