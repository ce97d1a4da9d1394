// Package junit reads and writes JUnit XML test reports.
package junit

import (
	"encoding/xml"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"time"
)

// Suites is the <testsuites> root.
type Suites struct {
	XMLName xml.Name `xml:"testsuites"`
	Name    string   `xml:"name,attr,omitempty"`
	Tests   int      `xml:"tests,attr"`
	Fails   int      `xml:"failures,attr"`
	Errors  int      `xml:"errors,attr"`
	Skipped int      `xml:"skipped,attr"`
	Time    string   `xml:"time,attr"`
	Suites  []Suite  `xml:"testsuite"`
}

// Suite is one <testsuite>.
type Suite struct {
	Name    string `xml:"name,attr"`
	Tests   int    `xml:"tests,attr"`
	Fails   int    `xml:"failures,attr"`
	Errors  int    `xml:"errors,attr"`
	Skipped int    `xml:"skipped,attr"`
	Time    string `xml:"time,attr"`
	Cases   []Case `xml:"testcase"`
}

// Case is one <testcase>.
type Case struct {
	Name      string   `xml:"name,attr"`
	Classname string   `xml:"classname,attr"`
	Time      string   `xml:"time,attr"`
	File      string   `xml:"file,attr,omitempty"`
	Line      int      `xml:"line,attr,omitempty"`
	Failure   *Failure `xml:"failure,omitempty"`
	Error     *Failure `xml:"error,omitempty"`
	Skipped   *Skipped `xml:"skipped,omitempty"`
	SystemOut string   `xml:"system-out,omitempty"`
}

// Failure is a <failure> or <error>.
type Failure struct {
	Message string `xml:"message,attr,omitempty"`
	Type    string `xml:"type,attr,omitempty"`
	Text    string `xml:",chardata"`
}

// Skipped is a <skipped>.
type Skipped struct {
	Message string `xml:"message,attr,omitempty"`
}

// Seconds formats a duration the way JUnit expects.
func Seconds(d time.Duration) string { return strconv.FormatFloat(d.Seconds(), 'f', 3, 64) }

// ParseSeconds reads a time attribute; bad or empty values are zero.
func ParseSeconds(s string) time.Duration {
	f, err := strconv.ParseFloat(s, 64)
	if err != nil {
		return 0
	}
	return time.Duration(f * float64(time.Second))
}

// Write writes the report to path, making its directory.
func Write(path string, s *Suites) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return fmt.Errorf("write junit %s: %w", path, err)
	}
	f, err := os.Create(path)
	if err != nil {
		return fmt.Errorf("write junit %s: %w", path, err)
	}
	if _, err := io.WriteString(f, xml.Header); err != nil {
		f.Close()
		return err
	}
	enc := xml.NewEncoder(f)
	enc.Indent("", "  ")
	if err := enc.Encode(s); err != nil {
		f.Close()
		return fmt.Errorf("write junit %s: %w", path, err)
	}
	return f.Close()
}

// Read reads a report with either <testsuites> or a single <testsuite> root.
func Read(path string) (*Suites, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read junit %s: %w", path, err)
	}
	return Parse(path, data)
}

// Parse parses a report; name is used in errors.
func Parse(name string, data []byte) (*Suites, error) {
	var root struct{ XMLName xml.Name }
	if err := xml.Unmarshal(data, &root); err != nil {
		return nil, fmt.Errorf("%s is not JUnit XML (%w); the command must write a <testsuites> or <testsuite> report there", name, err)
	}
	switch root.XMLName.Local {
	case "testsuites":
		var s Suites
		if err := xml.Unmarshal(data, &s); err != nil {
			return nil, fmt.Errorf("%s: %w", name, err)
		}
		return &s, nil
	case "testsuite":
		var one Suite
		if err := xml.Unmarshal(data, &one); err != nil {
			return nil, fmt.Errorf("%s: %w", name, err)
		}
		return &Suites{Suites: []Suite{one}, Tests: one.Tests, Fails: one.Fails, Errors: one.Errors, Skipped: one.Skipped, Time: one.Time}, nil
	}
	return nil, fmt.Errorf("%s: root element <%s> is not <testsuites> or <testsuite>", name, root.XMLName.Local)
}
