//go:build linux || darwin || freebsd || netbsd || openbsd || dragonfly

package proxy

import "syscall"

// peekFD is conn.raw.Control's callback: a non-blocking MSG_PEEK of one byte.
// Nothing to read (EAGAIN) means alive; end of stream, an error, or
// unsolicited bytes mean the connection must not carry a request.
func (c *conn) peekFD(fd uintptr) {
	var b [1]byte
	n, _, err := syscall.Recvfrom(int(fd), b[:], syscall.MSG_PEEK|syscall.MSG_DONTWAIT)
	c.peekAlive = n <= 0 && (err == syscall.EAGAIN || err == syscall.EWOULDBLOCK)
}
