#!/bin/sh
# kafka-server-start.sh CONFIG: the broker (and, in KRaft combined mode, the controller).
: "${KAFKA_HEAP_OPTS:=-Xmx1G -Xms1G}"
: "${KAFKA_LOG4J_OPTS:=-Dlog4j2.configurationFile=/opt/kafka/config/log4j2.yaml}"
export KAFKA_HEAP_OPTS KAFKA_LOG4J_OPTS
exec "$(dirname "$0")/kafka-run-class.sh" kafka.Kafka "$@"
