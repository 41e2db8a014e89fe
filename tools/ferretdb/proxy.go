package main

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"sync"
	"sync/atomic"
)

// FerretDB v1 applies an update by reading the document, changing it in Go
// and writing it back, with nothing isolating the read from the write: two
// concurrent updates of one document can both match and one is lost. MongoDB
// guarantees single-document atomicity and Coffer relies on it (check-and-set,
// counters), so this proxy sits in front of FerretDB and lets one write command
// run at a time. Reads pass through concurrently.

const (
	opMsg        = 2013
	headerLength = 16
	maxMessage   = 48 * 1024 * 1024
	moreToCome   = 1 << 1
)

// writeCommands must not interleave with each other.
var writeCommands = map[string]bool{
	"insert":        true,
	"update":        true,
	"delete":        true,
	"findandmodify": true,
	"findAndModify": true,
}

type writeSerializer struct {
	mu sync.Mutex
}

// readMessage reads one wire-protocol message (header included).
func readMessage(r io.Reader) ([]byte, error) {
	var header [headerLength]byte
	if _, err := io.ReadFull(r, header[:]); err != nil {
		return nil, err
	}
	length := int(int32(binary.LittleEndian.Uint32(header[0:4])))
	if length < headerLength || length > maxMessage {
		return nil, fmt.Errorf("bad message length %d", length)
	}
	msg := make([]byte, length)
	copy(msg, header[:])
	if _, err := io.ReadFull(r, msg[headerLength:]); err != nil {
		return nil, err
	}
	return msg, nil
}

func requestID(msg []byte) int32  { return int32(binary.LittleEndian.Uint32(msg[4:8])) }
func responseTo(msg []byte) int32 { return int32(binary.LittleEndian.Uint32(msg[8:12])) }
func opCode(msg []byte) int32     { return int32(binary.LittleEndian.Uint32(msg[12:16])) }

// commandName returns the first key of an OP_MSG's body document, and whether
// the client expects no reply (moreToCome).
func commandName(msg []byte) (string, bool) {
	if opCode(msg) != opMsg || len(msg) < headerLength+5 {
		return "", false
	}
	flags := binary.LittleEndian.Uint32(msg[headerLength : headerLength+4])
	rest := msg[headerLength+4:]
	for len(rest) > 0 {
		kind := rest[0]
		rest = rest[1:]
		if len(rest) < 4 {
			return "", false
		}
		size := int(int32(binary.LittleEndian.Uint32(rest[0:4])))
		if size < 5 || size > len(rest) {
			return "", false
		}
		if kind == 0 {
			// BSON: int32 length, then elements of type byte + cstring key + value.
			doc := rest[4:size]
			if len(doc) < 2 {
				return "", false
			}
			end := bytes.IndexByte(doc[1:], 0)
			if end < 0 {
				return "", false
			}
			return string(doc[1 : 1+end]), flags&moreToCome != 0
		}
		rest = rest[size:]
	}
	return "", false
}

// serve accepts clients on front and proxies each to a new connection to backend.
func (s *writeSerializer) serve(front net.Listener, backend string) {
	for {
		client, err := front.Accept()
		if err != nil {
			return
		}
		go s.proxy(client, backend)
	}
}

func (s *writeSerializer) proxy(client net.Conn, backend string) {
	defer client.Close()
	server, err := net.Dial("tcp", backend)
	if err != nil {
		return
	}
	defer server.Close()

	var awaited atomic.Int64
	awaited.Store(-1)
	replied := make(chan struct{}, 1)
	serverGone := make(chan struct{})

	go func() {
		defer close(serverGone)
		defer client.Close()
		for {
			msg, err := readMessage(server)
			if err != nil {
				return
			}
			if _, err := client.Write(msg); err != nil {
				return
			}
			if int64(responseTo(msg)) == awaited.Load() {
				awaited.Store(-1)
				replied <- struct{}{}
			}
		}
	}()

	for {
		msg, err := readMessage(client)
		if err != nil {
			return
		}
		name, noReply := commandName(msg)
		if !writeCommands[name] || noReply {
			if _, err := server.Write(msg); err != nil {
				return
			}
			continue
		}
		s.mu.Lock()
		awaited.Store(int64(requestID(msg)))
		_, err = server.Write(msg)
		if err == nil {
			select {
			case <-replied:
			case <-serverGone:
				err = errors.New("backend closed")
			}
		}
		s.mu.Unlock()
		if err != nil {
			return
		}
	}
}
