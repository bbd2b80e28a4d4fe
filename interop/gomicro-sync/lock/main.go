// lock holds and releases locks with Go Micro's etcd sync (micro/plugins v5/sync/etcd, in
// ../etcd), driven line by line from stdin so a test can interleave it with ts-micro:
//
//	lock ID TTL_SECONDS WAIT_MS   → {"op":"lock","id":ID,"ok":true} or {"op":"lock","id":ID,"error":"lock timeout"}
//	unlock ID                     → {"op":"unlock","id":ID,"ok":true} or {…,"error":…}
//
// It prints {"started": <etcd address>} first; INTEROP_ETCD is the etcd endpoint. A lock request
// blocks the command loop until it is granted or times out, as Go Micro's Lock blocks its caller.
package main

import (
	"bufio"
	"encoding/json"
	"os"
	"strconv"
	"strings"
	"time"

	"go-micro.dev/v5/sync"

	"ts-micro.dev/interop/gomicro-sync/etcd"
)

func main() {
	address := os.Getenv("INTEROP_ETCD")
	s := etcd.NewSync(sync.Nodes(address))
	emit(map[string]interface{}{"started": address})
	lines := bufio.NewScanner(os.Stdin)
	for lines.Scan() {
		fields := strings.Fields(lines.Text())
		if len(fields) < 2 {
			continue
		}
		op, id := fields[0], fields[1]
		var err error
		switch op {
		case "lock":
			err = s.Lock(id, sync.LockTTL(seconds(fields, 2)), sync.LockWait(millis(fields, 3)))
		case "unlock":
			err = s.Unlock(id)
		default:
			continue
		}
		result := map[string]interface{}{"op": op, "id": id, "ok": err == nil}
		if err != nil {
			result["error"] = err.Error()
		}
		emit(result)
	}
}

func seconds(fields []string, i int) time.Duration {
	return time.Duration(number(fields, i)) * time.Second
}

func millis(fields []string, i int) time.Duration {
	return time.Duration(number(fields, i)) * time.Millisecond
}

func number(fields []string, i int) int {
	if i >= len(fields) {
		return 0
	}
	n, _ := strconv.Atoi(fields[i])
	return n
}

func emit(v interface{}) {
	b, _ := json.Marshal(v)
	os.Stdout.Write(append(b, '\n'))
}
