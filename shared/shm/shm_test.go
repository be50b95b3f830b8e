package shm

import (
	"encoding/binary"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"testing"

	"golang.org/x/sys/unix"
)

const childEnv = "FLUXGATE_SHM_CHILD"

func TestMain(m *testing.M) {
	if os.Getenv(childEnv) != "" {
		// Child: map fd 3, add one to word 0, print what it saw.
		b, err := Map(os.NewFile(3, "region"))
		if err != nil {
			fmt.Println("error:", err)
			os.Exit(1)
		}
		v := binary.LittleEndian.Uint64(b)
		binary.LittleEndian.PutUint64(b, v+1)
		fmt.Println(v, len(b))
		Unmap(b)
		os.Exit(0)
	}
	os.Exit(m.Run())
}

func TestCreateMapShare(t *testing.T) {
	const size = 1 << 16
	f, err := Create("fluxgate-test", size)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	a, err := Map(f)
	if err != nil {
		t.Fatal(err)
	}
	defer Unmap(a)
	if len(a) != size {
		t.Fatalf("len = %d; want %d", len(a), size)
	}
	for i, c := range a {
		if c != 0 {
			t.Fatalf("byte %d = %d; want a zero-filled region", i, c)
		}
	}
	b, err := Map(f)
	if err != nil {
		t.Fatal(err)
	}
	defer Unmap(b)
	binary.LittleEndian.PutUint64(a, 41)
	if v := binary.LittleEndian.Uint64(b); v != 41 {
		t.Fatalf("second mapping sees %d; want 41", v)
	}

	// A child process gets the region through ExtraFiles and sees the
	// same memory.
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), childEnv+"=1")
	cmd.ExtraFiles = []*os.File{f}
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("child: %v: %s", err, out)
	}
	if got, want := strings.TrimSpace(string(out)), fmt.Sprint(41, size); got != want {
		t.Fatalf("child saw %q; want %q", got, want)
	}
	if v := binary.LittleEndian.Uint64(a); v != 42 {
		t.Fatalf("after the child: %d; want 42", v)
	}
}

func TestSealed(t *testing.T) {
	f, err := Create("fluxgate-test", 4096)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	for _, size := range []int64{0, 2048, 8192} {
		if err := f.Truncate(size); err == nil {
			t.Errorf("Truncate(%d) succeeded on a sealed region", size)
		}
	}
	seals, err := unix.FcntlInt(f.Fd(), unix.F_GET_SEALS, 0)
	if err != nil {
		t.Fatal(err)
	}
	if want := unix.F_SEAL_SHRINK | unix.F_SEAL_GROW | unix.F_SEAL_SEAL; seals&want != want {
		t.Fatalf("seals = %#x; want %#x set", seals, want)
	}
	flags, err := unix.FcntlInt(f.Fd(), unix.F_GETFD, 0)
	if err != nil {
		t.Fatal(err)
	}
	if flags&unix.FD_CLOEXEC == 0 {
		t.Fatal("memfd is not close-on-exec")
	}
}

func TestCreateBadSize(t *testing.T) {
	for _, size := range []int{0, -1} {
		if f, err := Create("x", size); err == nil {
			f.Close()
			t.Errorf("Create(%d) succeeded", size)
		}
	}
}
