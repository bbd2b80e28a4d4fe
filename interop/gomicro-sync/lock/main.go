// lock holds and releases locks, and campaigns in elections, with Go Micro's etcd sync
// (micro/plugins v5/sync/etcd, in ../etcd), driven line by line from stdin so a test can
// interleave it with ts-micro:
//
//	lock ID TTL_SECONDS WAIT_MS   → {"op":"lock","id":ID,"ok":true} or {"op":"lock","id":ID,"ok":false,"error":"lock timeout"}
//	unlock ID                     → {"op":"unlock","id":ID,"ok":true} or {…,"ok":false,"error":…}
//	elect ID                      → {"op":"elect","id":ID,"ok":true} once elected
//	resign ID                     → {"op":"resign","id":ID,"ok":true}
//
// It prints {"started": <etcd address>} first; INTEROP_ETCD is the etcd endpoint. A lock or elect
// request blocks the command loop until it is granted (or times out), as Go Micro's Lock and
// Leader block their caller.
package main

import (
	"bufio"
	"encoding/json"
	"errors"
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
	leaders := map[string]sync.Leader{}
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
		case "elect":
			var leader sync.Leader
			if leader, err = s.Leader(id); err == nil {
				leaders[id] = leader
			}
		case "resign":
			if leader, ok := leaders[id]; ok {
				err = leader.Resign()
				delete(leaders, id)
			} else {
				err = errors.New("not a leader of " + id)
			}
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
