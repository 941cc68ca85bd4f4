#!/bin/sh
# kafka-broker-api-versions.sh: the official script's class, org.apache.kafka.tools.BrokerApiVersionsCommand.
exec "$(dirname "$0")/kafka-run-class.sh" org.apache.kafka.tools.BrokerApiVersionsCommand "$@"
