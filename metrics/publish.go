package metrics

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/push"
	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"github.com/cashpool/cashpool/alpaca"
)

// Job is the Pushgateway job a one-shot command pushes to.
const Job = "cashpool"

// WriteTextfile writes cashpool's series (not the runtime's, which node_exporter has of its own)
// to path for node_exporter's textfile collector. The file is written beside path and renamed
// over it, so the collector never reads half a file; it is created with the modes the umask
// allows, like the reports.
func (m *Metrics) WriteTextfile(path string) error {
	var buf bytes.Buffer
	mfs, err := m.own.Gather()
	if err != nil {
		return err
	}
	enc := expfmt.NewEncoder(&buf, expfmt.NewFormat(expfmt.TypeTextPlain))
	for _, mf := range mfs {
		if err := enc.Encode(mf); err != nil {
			return err
		}
	}
	// The collector reads only *.prom files: the temporary one is never read.
	tmp := filepath.Join(filepath.Dir(path), "."+filepath.Base(path)+".tmp")
	f, err := os.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o666)
	if err != nil {
		return fmt.Errorf("metrics textfile: %w", err)
	}
	_, err = f.Write(buf.Bytes())
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp, path)
	}
	if err != nil {
		os.Remove(tmp)
		return fmt.Errorf("metrics textfile: %w", err)
	}
	return nil
}

// CarryOver takes the last success and failure times of each sweep account from the textfile a
// previous command wrote at path, so that a run which fails does not erase when the last night
// succeeded. A missing file carries nothing over.
func (m *Metrics) CarryOver(path string) error {
	b, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("metrics textfile: %w", err)
	}
	parser := expfmt.NewTextParser(model.UTF8Validation)
	mfs, err := parser.TextToMetricFamilies(bytes.NewReader(b))
	if err != nil {
		return fmt.Errorf("metrics textfile %s: %w", path, err)
	}
	for name, g := range map[string]*prometheus.GaugeVec{
		"cashpool_night_last_success_timestamp_seconds": m.lastSuccess,
		"cashpool_night_last_failure_timestamp_seconds": m.lastFailure,
	} {
		for _, mt := range mfs[name].GetMetric() {
			if sweep := label(mt, SweepLabel); sweep != "" {
				g.WithLabelValues(sweep).Set(mt.GetGauge().GetValue())
			}
		}
	}
	return nil
}

func label(m *dto.Metric, name string) string {
	for _, l := range m.GetLabel() {
		if l.GetName() == name {
			return l.GetValue()
		}
	}
	return ""
}

// Push sends cashpool's series to the Pushgateway at url under job "cashpool", grouped by the
// sweep account. It adds (POST) rather than replaces: a run that failed leaves the group's last
// success time, and the last night's gauges, as the previous push set them.
func (m *Metrics) Push(ctx context.Context, url, sweep string, client *http.Client) error {
	// The grouping key carries the sweep account; the Pushgateway refuses a metric that carries
	// it as a label too. Another account's series (carried over from a shared textfile) stay out.
	g := prometheus.GathererFunc(func() ([]*dto.MetricFamily, error) {
		mfs, err := m.own.Gather()
		var out []*dto.MetricFamily
		for _, mf := range mfs {
			ms := mf.Metric[:0]
			for _, mt := range mf.Metric {
				if s := label(mt, SweepLabel); s != "" && s != sweep {
					continue
				}
				ls := mt.Label[:0]
				for _, l := range mt.Label {
					if l.GetName() != SweepLabel {
						ls = append(ls, l)
					}
				}
				mt.Label = ls
				ms = append(ms, mt)
			}
			if mf.Metric = ms; len(ms) > 0 {
				out = append(out, mf)
			}
		}
		return out, err
	})
	p := push.New(url, Job).Gatherer(g).Grouping(SweepLabel, sweep)
	if client != nil {
		p = p.Client(client)
	}
	if err := p.AddContext(ctx); err != nil {
		// The library's message quotes the URL, which may carry the gateway's password.
		return fmt.Errorf("metrics push to %s: %s", alpaca.RedactURL(url), strings.ReplaceAll(err.Error(), url, alpaca.RedactURL(url)))
	}
	return nil
}
