package ctl

import (
	"bytes"

	"github.com/VictoriaMetrics/metrics"
)

// A worker answers KindMetricsRequest with its host series (summed over
// workers by the supervisor) followed by ProcessMetrics(slot): the only
// per-process series, labelled worker="<slot>", which are never summed.

// WithWorkerLabel adds worker="name" to every series of text (for
// per-process series: Go runtime, process).
func WithWorkerLabel(text []byte, name string) []byte {
	var b bytes.Buffer
	label := `worker="` + name + `"`
	for line := range bytes.SplitSeq(text, []byte("\n")) {
		switch {
		case len(line) == 0:
			continue
		case line[0] == '#':
			b.Write(line)
		default:
			if i := bytes.IndexByte(line, '{'); i >= 0 && i < bytes.IndexByte(line, ' ') {
				b.Write(line[:i+1])
				b.WriteString(label)
				if line[i+1] != '}' {
					b.WriteByte(',')
				}
				b.Write(line[i+1:])
			} else if i := bytes.IndexByte(line, ' '); i > 0 {
				b.Write(line[:i])
				b.WriteString("{" + label + "}")
				b.Write(line[i:])
			} else {
				continue
			}
		}
		b.WriteByte('\n')
	}
	return b.Bytes()
}

// ProcessMetrics is this process's Go runtime and process series, each
// labelled worker="name".
func ProcessMetrics(name string) []byte {
	var b bytes.Buffer
	metrics.WriteProcessMetrics(&b)
	return WithWorkerLabel(b.Bytes(), name)
}
