#!/bin/sh
# kafka-configs.sh: the official script's class, org.apache.kafka.tools.ConfigCommand.
exec "$(dirname "$0")/kafka-run-class.sh" org.apache.kafka.tools.ConfigCommand "$@"
