# Sourced by broker.sh (tansu) and kafka-broker.sh (Apache Kafka): the two checks both use to tell whether a local
# broker is up, and the two ways both end one, so that both kinds are judged and stopped alike.

# Stops the process whose pid is in file $1: SIGTERM, then SIGKILL if it is still alive after $2 seconds. Removes
# the file. Fails (doing nothing) when there is no such file.
stop_pidfile() {
  [ -f "$1" ] || return 1
  local pid; pid="$(cat "$1")"
  if kill "$pid" 2>/dev/null; then
    for _ in $(seq 1 $(($2 * 10))); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill_pidfile "$1"
  fi
  rm -f "$1"
}

# A crash, for the outage tests: SIGKILL at once to the process whose pid is in file $1, no controlled shutdown
# (the data stays for a restart); waits until it is gone and removes the file. Fails when there is no such file.
kill_pidfile() {
  [ -f "$1" ] || return 1
  local pid; pid="$(cat "$1")"
  kill -9 "$pid" 2>/dev/null || true
  for _ in $(seq 1 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.05; done
  rm -f "$1"
}

# Succeeds when something accepts a TCP connection on 127.0.0.1:$1.
answers() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

# Sends one Kafka Metadata request (v0, all topics) to 127.0.0.1:$1 and succeeds when the answer carries our
# correlation id and lists at least one broker. Gives up on a silent connection after 2 s. (Apache Kafka 4.x, which
# dropped many old request versions, still answers Metadata v0.)
answers_metadata() {
  python3 - "$1" <<'PY' 2>/dev/null
import socket, struct, sys
client = b"sluice-broker-sh"
request = struct.pack(">hhih", 3, 0, 0x51CE, len(client)) + client + struct.pack(">i", 0)
with socket.create_connection(("127.0.0.1", int(sys.argv[1])), timeout=2) as s:
    s.settimeout(2)
    s.sendall(struct.pack(">i", len(request)) + request)
    def read(n):
        data = b""
        while len(data) < n:
            chunk = s.recv(n - len(data))
            if not chunk:
                sys.exit(1)
            data += chunk
        return data
    (size,) = struct.unpack(">i", read(4))
    correlation, brokers = struct.unpack(">ii", read(size)[:8])
    sys.exit(0 if correlation == 0x51CE and brokers > 0 else 1)
PY
}
