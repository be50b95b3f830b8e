package ratelimit

// This is the only file of the package that uses unsafe: it views a mapped
// byte region as the uint64 words of the local table. Audit notes:
//   - mem comes from mmap (page-aligned) or from a []uint64, so the words are
//     8-byte aligned, as sync/atomic requires;
//   - the length is rounded down to whole words, so no access goes past mem;
//   - the region holds integers only, never Go pointers;
//   - the caller keeps the mapping alive for as long as the words are used.

import "unsafe"

// wordsOf returns mem viewed as uint64 words (len(mem)/8 of them).
func wordsOf(mem []byte) []uint64 {
	if len(mem) < 8 {
		return nil
	}
	return unsafe.Slice((*uint64)(unsafe.Pointer(unsafe.SliceData(mem))), len(mem)/8)
}
