package redistest

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"net"
	"strconv"
	"strings"
	"time"
)

// Deadlines of one command.
const (
	dialTimeout = time.Second
	doTimeout   = 5 * time.Second
)

// Do runs one command on a fresh connection and returns the reply as text
// (simple string, integer or bulk string; "" for a nil bulk string). It
// fails the test on an error, including an error reply.
func (s *Server) Do(args ...string) string {
	s.t.Helper()
	reply, err := s.TryDo(args...)
	if err != nil {
		s.t.Fatalf("redis %v: %v", args, err)
	}
	return reply
}

// TryDo is Do returning the error: a connection error, or an error reply
// as its text (e.g. "ERR unknown command").
func (s *Server) TryDo(args ...string) (string, error) {
	var c net.Conn
	var err error
	if s.sock != "" {
		c, err = net.DialTimeout("unix", s.sock, dialTimeout)
	} else {
		c, err = net.DialTimeout("tcp", s.Addr(), dialTimeout)
	}
	if err != nil {
		return "", err
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(doTimeout))
	var b bytes.Buffer
	fmt.Fprintf(&b, "*%d\r\n", len(args))
	for _, a := range args {
		fmt.Fprintf(&b, "$%d\r\n%s\r\n", len(a), a)
	}
	if _, err := c.Write(b.Bytes()); err != nil {
		return "", err
	}
	br := bufio.NewReader(c)
	line, err := br.ReadString('\n')
	if err != nil {
		return "", err
	}
	line = strings.TrimRight(line, "\r\n")
	if line == "" {
		return "", errors.New("redistest: empty reply")
	}
	switch line[0] {
	case '+', ':':
		return line[1:], nil
	case '-':
		return "", errors.New(line[1:])
	case '$':
		n, err := strconv.Atoi(line[1:])
		if err != nil {
			return "", fmt.Errorf("redistest: bulk length %q", line)
		}
		if n < 0 {
			return "", nil
		}
		buf := make([]byte, n+2)
		if _, err := io.ReadFull(br, buf); err != nil {
			return "", err
		}
		return string(buf[:n]), nil
	}
	return "", fmt.Errorf("redistest: unexpected reply %q", line)
}

// CommandCalls returns the calls of each named command (lower case, e.g.
// "evalsha") from INFO commandstats, 0 for a command never called.
func (s *Server) CommandCalls(names ...string) map[string]int {
	s.t.Helper()
	info := s.Do("INFO", "commandstats")
	calls := make(map[string]int, len(names))
	for _, name := range names {
		calls[name] = 0
	}
	for line := range strings.SplitSeq(info, "\n") {
		for _, name := range names {
			if rest, ok := strings.CutPrefix(strings.TrimSpace(line), "cmdstat_"+name+":calls="); ok {
				calls[name], _ = strconv.Atoi(strings.SplitN(rest, ",", 2)[0])
			}
		}
	}
	return calls
}
