#!/usr/bin/env bash
# Installs, idempotently, a real Apache Kafka broker (pinned) for scripts/kafka-broker.sh, and prints the folder
# of its jars. Nothing else calls it yet: scripts/setup.sh runs it only when asked (`--with-kafka` or
# SLUICE_WITH_KAFKA=1), so the default setup, and CI, still install only tansu.
#
#   scripts/kafka-install.sh            # installs if missing, then prints e.g. ~/.cache/sluice/kafka-4.4.0/libs
#
# Kafka's own release archives are not reachable from this project's machines, but Maven Central serves the broker
# as a library (org.apache.kafka:kafka_2.13, whose kafka.Kafka is the class bin/kafka-server-start.sh runs). So a
# throwaway pom asks Maven for it and all its runtime dependencies, plus slf4j-simple (Kafka's jars log through
# SLF4J but leave the choice of a backend to the distribution, which ships log4j2; slf4j-simple needs no config
# file; slf4j-api is named too, at the same version, or Maven's nearest-wins rule keeps Kafka's slf4j-api 1.7, which
# cannot find a 2.x backend and silently logs nothing), and `dependency:copy-dependencies` lays the jars in one folder: `java -cp "<libs>/*"` runs it.
# They go to a per-machine cache outside the repository, once: a marker file says the copy finished, and a run
# that finds it returns at once. Needs Java 17 or newer (Kafka 4.x's brokers do) and Maven; installs both with apt
# when missing, as scripts/setup.sh does for its own packages.
set -euo pipefail

KAFKA_VERSION="${KAFKA_VERSION:-4.4.0}"
SLF4J_VERSION="${SLF4J_VERSION:-2.0.20}"
cache="${XDG_CACHE_HOME:-$HOME/.cache}/sluice/kafka-$KAFKA_VERSION"
libs="$cache/libs"
marker="$cache/.installed"

log() { printf '[kafka-install] %s\n' "$*" >&2; }

as_root() {
  if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi
}

if [ -f "$marker" ]; then
  echo "$libs"
  exit 0
fi

# Java 17+ and Maven. `java -version` prints e.g. `openjdk version "17.0.15"`; an older Java would start and then
# fail on Kafka's class files, so it counts as missing. Debian 12 has openjdk-17; a later Debian that dropped it
# gets its default Java (21 or newer), which runs Kafka 4.x as well.
java_major() { java -version 2>&1 | sed -n 's/.* version "\([0-9]*\).*/\1/p' | head -1; }
if ! command -v java >/dev/null 2>&1 || [ "$(java_major)" -lt 17 ] 2>/dev/null || [ -z "$(java_major)" ] \
   || ! command -v mvn >/dev/null 2>&1; then
  as_root apt-get update -qq
  jre=openjdk-17-jre-headless
  apt-cache show "$jre" >/dev/null 2>&1 || jre=default-jre-headless
  log "installing Debian packages: $jre maven"
  DEBIAN_FRONTEND=noninteractive as_root apt-get install -y -qq --no-install-recommends "$jre" maven >/dev/null
fi

log "installing Apache Kafka $KAFKA_VERSION from Maven Central into $libs (56 MB to download, once per machine)"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
cat >"$work/pom.xml" <<EOF
<project xmlns="http://maven.apache.org/POM/4.0.0">
  <modelVersion>4.0.0</modelVersion>
  <groupId>sluice.local</groupId>
  <artifactId>kafka-broker-libs</artifactId>
  <version>0</version>
  <packaging>pom</packaging>
  <dependencies>
    <dependency><groupId>org.apache.kafka</groupId><artifactId>kafka_2.13</artifactId><version>$KAFKA_VERSION</version></dependency>
    <dependency><groupId>org.slf4j</groupId><artifactId>slf4j-api</artifactId><version>$SLF4J_VERSION</version></dependency>
    <dependency><groupId>org.slf4j</groupId><artifactId>slf4j-simple</artifactId><version>$SLF4J_VERSION</version></dependency>
  </dependencies>
</project>
EOF
# Copy into a fresh folder beside the final one and rename it into place, so that an interrupted run leaves no
# half-filled libs/ behind (the next run starts over).
rm -rf "$cache/libs.partial"
mkdir -p "$cache"
# Maven's output goes to a file, shown only when it fails: even -q -B prints terminal escape codes, and stdout
# must carry only the folder's path, for callers that capture it.
if ! (cd "$work" && mvn -q -B -ntp dependency:copy-dependencies \
        -DincludeScope=runtime -DoutputDirectory="$cache/libs.partial") >"$work/mvn.log" 2>&1; then
  log "Maven could not resolve Apache Kafka $KAFKA_VERSION:"; cat "$work/mvn.log" >&2; exit 1
fi
rm -rf "$libs"
mv "$cache/libs.partial" "$libs"
touch "$marker"
log "Apache Kafka $KAFKA_VERSION installed: $(ls "$libs" | wc -l) jars, $(du -sm "$libs" | cut -f1) MB"
echo "$libs"
