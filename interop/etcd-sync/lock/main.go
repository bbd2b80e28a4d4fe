// lock holds and releases etcd locks, and campaigns in etcd elections, the way Go Micro's etcd
// sync (micro/plugins v5/sync/etcd) does, driven line by line from stdin so a test can interleave
// it with ts-micro:
//
//	lock ID TTL_SECONDS WAIT_MS   → {"op":"lock","id":ID,"ok":true} or {"op":"lock","id":ID,"ok":false,"error":"lock timeout"}
//	unlock ID                     → {"op":"unlock","id":ID,"ok":true} or {…,"ok":false,"error":…}
//	elect ID                      → {"op":"elect","id":ID,"ok":true} once elected
//	resign ID                     → {"op":"resign","id":ID,"ok":true}
//
// That plugin is not served by the Go module proxy (and Go Micro itself has had no sync package
// since v5.1.0), so this program follows its recipe with the library it wraps, etcd's
// concurrency package: the key is path.Join("/micro/sync", prefix+id with "/" turned into "-"); a
// lock is a concurrency.Mutex on a session whose lease TTL is the lock's TTL (etcd's 60 s when 0),
// a wait that runs out is "lock timeout"; a leader campaigns in a concurrency.Election with its id
// as the value. etcd writes <key>/<lease id in hex>, and the lowest create revision holds.
//
// It prints {"started": <etcd address>} first; INTEROP_ETCD is the etcd endpoint. A lock or elect
// request blocks the command loop until it is granted (or times out), as Go Micro's Lock and
// Leader block their caller.
package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"os"
	"path"
	"strconv"
	"strings"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"
	"go.etcd.io/etcd/client/v3/concurrency"
)

// syncKey is the plugin's key for an id (with an empty prefix).
func syncKey(id string) string {
	return path.Join("/micro/sync", strings.ReplaceAll(id, "/", "-"))
}

type held struct {
	session *concurrency.Session
	mutex   *concurrency.Mutex
}

type leading struct {
	session  *concurrency.Session
	election *concurrency.Election
}

func main() {
	address := os.Getenv("INTEROP_ETCD")
	client, err := clientv3.New(clientv3.Config{Endpoints: []string{address}, DialTimeout: 5 * time.Second})
	if err != nil {
		emit(map[string]interface{}{"error": err.Error()})
		os.Exit(1)
	}
	defer client.Close()
	emit(map[string]interface{}{"started": address})
	locks := map[string]held{}
	leaders := map[string]leading{}
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
			var h held
			if h, err = lock(client, id, number(fields, 2), time.Duration(number(fields, 3))*time.Millisecond); err == nil {
				locks[id] = h
			}
		case "unlock":
			h, ok := locks[id]
			if !ok {
				err = errors.New("lock not found")
				break
			}
			delete(locks, id)
			err = h.mutex.Unlock(context.Background())
			h.session.Close()
		case "elect":
			var l leading
			if l, err = elect(client, id); err == nil {
				leaders[id] = l
			}
		case "resign":
			l, ok := leaders[id]
			if !ok {
				err = errors.New("not a leader of " + id)
				break
			}
			delete(leaders, id)
			err = l.election.Resign(context.Background())
			l.session.Close()
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

// lock takes the mutex for id, waiting at most wait (forever when 0).
func lock(client *clientv3.Client, id string, ttlSeconds int, wait time.Duration) (held, error) {
	var options []concurrency.SessionOption
	if ttlSeconds > 0 {
		options = append(options, concurrency.WithTTL(ttlSeconds))
	}
	session, err := concurrency.NewSession(client, options...)
	if err != nil {
		return held{}, err
	}
	ctx := context.Background()
	if wait > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, wait)
		defer cancel()
	}
	mutex := concurrency.NewMutex(session, syncKey(id))
	if err := mutex.Lock(ctx); err != nil {
		session.Close()
		if errors.Is(err, context.DeadlineExceeded) {
			return held{}, errors.New("lock timeout")
		}
		return held{}, err
	}
	return held{session, mutex}, nil
}

// elect campaigns for leadership of id and returns once elected.
func elect(client *clientv3.Client, id string) (leading, error) {
	session, err := concurrency.NewSession(client)
	if err != nil {
		return leading{}, err
	}
	election := concurrency.NewElection(session, syncKey(id))
	if err := election.Campaign(context.Background(), id); err != nil {
		session.Close()
		return leading{}, err
	}
	return leading{session, election}, nil
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
