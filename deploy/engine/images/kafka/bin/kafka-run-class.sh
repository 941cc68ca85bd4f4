#!/bin/sh
# Runs one Kafka class on the jars of /opt/kafka/libs, with the JVM variables of the official
# scripts: KAFKA_HEAP_OPTS (default -Xmx256M), KAFKA_JVM_PERFORMANCE_OPTS, KAFKA_LOG4J_OPTS,
# KAFKA_OPTS.
: "${KAFKA_HEAP_OPTS:=-Xmx256M}"
: "${KAFKA_LOG4J_OPTS:=-Dlog4j2.configurationFile=/opt/kafka/config/tools-log4j2.yaml}"
# shellcheck disable=SC2086
exec java $KAFKA_HEAP_OPTS ${KAFKA_JVM_PERFORMANCE_OPTS:-} $KAFKA_LOG4J_OPTS ${KAFKA_OPTS:-} \
  -cp "/opt/kafka/libs/*" "$@"
