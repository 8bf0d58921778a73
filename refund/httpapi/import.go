package httpapi

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"

	"github.com/refundbot/refundbot/refund"
)

// MaxOrderBytes is the largest order accepted, as one JSON line of an
// import file or as one request body. Real orders are well under a
// kilobyte; the bound is there so that a broken export cannot exhaust
// memory.
const MaxOrderBytes = 1 << 20

// ImportResult tells how an import went.
type ImportResult struct {
	// Created and Updated count the lines stored as new and as
	// replacements of known orders.
	Created, Updated int
	// Failed holds the lines that were skipped, in file order.
	Failed []LineError
}

// LineError is why one line of an import was skipped.
type LineError struct {
	// Line is 1-based and counts blank lines, so that it matches what an
	// editor shows.
	Line int
	// Err is a refund error; refund.ErrorField names the bad member.
	Err error
}

// Error implements error so that a LineError can be printed or wrapped as
// is.
func (e LineError) Error() string { return fmt.Sprintf("line %d: %v", e.Line, e.Err) }

// Unwrap lets refund.ErrorCode and refund.ErrorField see the cause.
func (e LineError) Unwrap() error { return e.Err }

// ImportOrders reads orders as JSON lines from r and upserts each into
// store. Blank lines are skipped. A line that is not a valid order, is
// longer than MaxOrderBytes, or that the store refuses with an application
// error (EINVALID, ECONFLICT, ...) is recorded in Failed and the import goes
// on, so that one bad row does not hold back a whole export. A read error,
// an internal store error or the end of ctx stops the import: the returned
// error names the line, and the result counts what was stored before it.
func ImportOrders(ctx context.Context, r io.Reader, store refund.OrderStore) (ImportResult, error) {
	var res ImportResult
	br := bufio.NewReaderSize(r, 64<<10)
	var buf []byte
	for lineNo := 1; ; lineNo++ {
		if err := ctx.Err(); err != nil {
			return res, fmt.Errorf("import orders: line %d: %w", lineNo, err)
		}
		line, tooLong, readErr := readLine(br, MaxOrderBytes, buf[:0])
		buf = line
		if readErr != nil && !errors.Is(readErr, io.EOF) {
			return res, fmt.Errorf("import orders: read line %d: %w", lineNo, readErr)
		}
		if lineNo == 1 {
			// Spreadsheet tools on Windows start UTF-8 files with a BOM,
			// which is not JSON.
			line = bytes.TrimPrefix(line, []byte("\uFEFF"))
		}
		switch {
		case tooLong:
			res.Failed = append(res.Failed, LineError{Line: lineNo,
				Err: refund.Errorf(refund.EINVALID, "line is longer than %d bytes", MaxOrderBytes)})
		case len(bytes.TrimSpace(line)) == 0:
			// Blank lines separate nothing in JSON lines but are common
			// at the end of hand-edited files.
		default:
			if err := importLine(ctx, store, line, &res); err != nil {
				if refund.ErrorCode(err) == refund.EINTERNAL {
					return res, fmt.Errorf("import orders: line %d: %w", lineNo, err)
				}
				res.Failed = append(res.Failed, LineError{Line: lineNo, Err: err})
			}
		}
		if errors.Is(readErr, io.EOF) {
			return res, nil
		}
	}
}

func importLine(ctx context.Context, store refund.OrderStore, line []byte, res *ImportResult) error {
	o, err := DecodeOrder(line)
	if err != nil {
		return err
	}
	created, err := store.UpsertOrder(ctx, o)
	if err != nil {
		return fmt.Errorf("upsert order %q: %w", o.ID, err)
	}
	if created {
		res.Created++
	} else {
		res.Updated++
	}
	return nil
}

// readLine appends the next line of br, without its "\n" or "\r\n", to buf
// and returns it. A line longer than max is consumed to its end but not
// kept, and reported as tooLong, so that the caller can go on with the next
// line instead of failing the whole input the way bufio.Scanner would. err
// is io.EOF when the input ended with this line.
func readLine(br *bufio.Reader, max int, buf []byte) (line []byte, tooLong bool, err error) {
	for {
		chunk, err := br.ReadSlice('\n')
		// Keep up to two bytes past max so that a terminator can still be
		// trimmed before the length is judged.
		if !tooLong && len(buf)+len(chunk) <= max+2 {
			buf = append(buf, chunk...)
		} else {
			tooLong = true
		}
		if errors.Is(err, bufio.ErrBufferFull) {
			continue
		}
		if !tooLong {
			buf = bytes.TrimSuffix(buf, []byte("\n"))
			buf = bytes.TrimSuffix(buf, []byte("\r"))
			tooLong = len(buf) > max
		}
		if tooLong {
			buf = buf[:0]
		}
		return buf, tooLong, err
	}
}
