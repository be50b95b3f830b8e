package supervisor

import (
	"context"
	"path/filepath"
	"strings"

	"github.com/fsnotify/fsnotify"
)

// watcher reports changes in the config file's directory (watching the
// directory survives rename-replace by editors and Kubernetes ConfigMap
// symlink swaps). It only signals; the owner loop debounces and compares
// the file's bytes with the last ones it loaded.
type watcher struct {
	w    *fsnotify.Watcher
	base string
}

func newWatcher(path string) (*watcher, error) {
	abs, err := filepath.Abs(path)
	if err != nil {
		return nil, err
	}
	w, err := fsnotify.NewWatcher()
	if err != nil {
		return nil, err
	}
	if err := w.Add(filepath.Dir(abs)); err != nil {
		w.Close()
		return nil, err
	}
	return &watcher{w: w, base: filepath.Base(abs)}, nil
}

// run posts evFileChange for every relevant event until ctx ends.
func (w *watcher) run(ctx context.Context, post func(event)) {
	defer w.w.Close()
	for {
		select {
		case <-ctx.Done():
			return
		case ev, ok := <-w.w.Events:
			if !ok {
				return
			}
			name := filepath.Base(ev.Name)
			// ConfigMaps swap a "..data" symlink; editors write temporaries
			// and rename them over the file.
			if name == w.base || strings.HasPrefix(name, "..") {
				post(evFileChange{})
			}
		case _, ok := <-w.w.Errors:
			if !ok {
				return
			}
		}
	}
}
