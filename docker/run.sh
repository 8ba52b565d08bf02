#!/usr/bin/env bash
# Container entry point, first-run flow as in the mautrix bridges:
#   1. no config.yaml       -> write an example one, ask the user to edit it, stop;
#   2. no registration.yaml -> generate it from the config, ask the user to
#                              register it with the homeserver, stop;
#   3. otherwise            -> run walkie.
# Extra arguments are passed on to walkie in step 3.
set -euo pipefail

data_dir="${WALKIE_DATA_DIR:-/data}"
config="$data_dir/config.yaml"
registration="$data_dir/registration.yaml"

if [ ! -w "$data_dir" ]; then
	echo "walkie: $data_dir is not writable by uid $(id -u); mount a volume there that it can write." >&2
	exit 1
fi

if [ ! -f "$config" ]; then
	walkie -e -c "$config"
	echo "walkie: wrote an example configuration to $config."
	echo "walkie: edit it (homeserver address, domain, database URL; in a container also"
	echo "walkie: appservice.hostname: \"\" and, for metrics, metrics.listen: 0.0.0.0:9330), then start"
	echo "walkie: the container again. (Ignore the walkie -g hint above: the next start runs it.)"
	exit 0
fi

if [ ! -f "$registration" ]; then
	walkie -g -c "$config" -r "$registration"
	echo "walkie: generated the appservice registration $registration."
	echo "walkie: register it with your homeserver (Synapse: app_service_config_files; Dendrite:"
	echo "walkie: app_service_api.config_files; Conduit: see docs/admin.md), restart the homeserver,"
	echo "walkie: then start this container again."
	exit 0
fi

exec walkie -c "$config" "$@"
