#!/bin/sh
# kafka-topics.sh: the official script's class, org.apache.kafka.tools.TopicCommand.
exec "$(dirname "$0")/kafka-run-class.sh" org.apache.kafka.tools.TopicCommand "$@"
