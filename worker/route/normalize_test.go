package route

import (
	"errors"
	"testing"
)

func TestNormalize(t *testing.T) {
	f := func(in, want string) {
		t.Helper()
		got, err := Normalize(nil, []byte(in))
		if err != nil || string(got) != want {
			t.Errorf("Normalize(%q) = %q, %v; want %q, nil", in, got, err, want)
		}
	}
	f("/", "/")
	f("/a", "/a")
	f("/a/b/", "/a/b/")
	f("//", "//")
	f("/a//b", "/a//b")
	f("///", "///")

	// dot-segments
	f("/public/../protected/x", "/protected/x")
	f("/.", "/")
	f("/..", "/")
	f("/../..", "/")
	f("/../a", "/a")
	f("/../../a/b", "/a/b")
	f("/a/.", "/a/")
	f("/a/..", "/")
	f("/a/b/..", "/a/")
	f("/a/b/../", "/a/")
	f("/a/b/../..", "/")
	f("/a/b/../../..", "/")
	f("/a/./b", "/a/b")
	f("/a/././b/./", "/a/b/")
	f("/a/b/c/./../../g", "/a/g")
	f("/mid/content=5/../6", "/mid/6")
	f("/a//..", "/a/")
	f("/a//../b", "/a/b")
	f("//..", "/")
	f("/a/.../b", "/a/.../b")
	f("/a/.b/..c/b.", "/a/.b/..c/b.")
	f("/.well-known/x", "/.well-known/x")

	// escapes
	f("/%41", "/A")
	f("/%7euser", "/~user")
	f("/%7Euser", "/~user")
	f("/a%2db%5fc%2E", "/a-b_c.")
	f("/%30%39", "/09")
	f("/%2F", "/%2F")
	f("/%2f", "/%2F")
	f("/a%2fb", "/a%2Fb")
	f("/%20", "/%20")
	f("/%ff%Fe", "/%FF%FE")
	f("/%25", "/%25")
	f("/%2541", "/%2541")
	f("/%2e%2e/x", "/x")
	f("/a/%2e%2e", "/")
	f("/a/%2E%2e/b", "/b")
	f("/a/.%2e/b", "/b")
	f("/a/%2e/b", "/a/b")
	f("/a/%2e%2e%2e/b", "/a/.../b")
	f("/a/..%2F..", "/a/..%2F..")
	f("/public/%2e%2e/protected", "/protected")

	// already normal: copied as is
	f("/static/app.min.js", "/static/app.min.js")
	f("/a./b..", "/a./b..")
	f("/svc1/v1/items/42", "/svc1/v1/items/42")

	// other bytes are copied
	f("/a b", "/a b")
	f("/é", "/é")
	f("/a?b", "/a?b")
	f("/\x00", "/\x00")
}

func TestNormalizeBad(t *testing.T) {
	f := func(in string) {
		t.Helper()
		got, err := Normalize([]byte("keep"), []byte(in))
		if !errors.Is(err, ErrBadPath) || string(got) != "keep" {
			t.Errorf("Normalize(%q) = %q, %v; want %q, %v", in, got, err, "keep", ErrBadPath)
		}
	}
	f("")
	f("*")
	f("a/b")
	f("http://h/x")
	f("/%")
	f("/%4")
	f("/%zz")
	f("/%4g")
	f("/%g4")
	f("/a/%2")
	f("/%%41")
	f("/ok/%x/..")
}

func TestNormalizeAppends(t *testing.T) {
	dst := []byte("prefix:")
	got, err := Normalize(dst, []byte("/a/../b/%41"))
	if err != nil || string(got) != "prefix:/b/A" {
		t.Errorf("Normalize(%q, ...) = %q, %v; want %q, nil", dst, got, err, "prefix:/b/A")
	}
	// Dot-segments never climb into dst.
	got, err = Normalize([]byte("/x/y"), []byte("/../../z"))
	if err != nil || string(got) != "/x/y/z" {
		t.Errorf("Normalize(%q, ...) = %q, %v; want %q, nil", "/x/y", got, err, "/x/y/z")
	}
}
