#!/bin/sh
# kafka-storage.sh: the official script's class, kafka.tools.StorageTool.
exec "$(dirname "$0")/kafka-run-class.sh" kafka.tools.StorageTool "$@"
