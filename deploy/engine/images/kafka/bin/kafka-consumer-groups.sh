#!/bin/sh
# kafka-consumer-groups.sh: the official script's class, org.apache.kafka.tools.consumer.group.ConsumerGroupCommand.
exec "$(dirname "$0")/kafka-run-class.sh" org.apache.kafka.tools.consumer.group.ConsumerGroupCommand "$@"
