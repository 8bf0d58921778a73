package postgres

import (
	"fmt"

	"github.com/jackc/pgx/v5"
)

// pipeline is a batch of statements sent at once, each with the function
// that reads and checks its result. The reads run in the order queued and
// the first error stops them.
type pipeline struct {
	batch pgx.Batch
	reads []func(br pgx.BatchResults) error
}

func (p *pipeline) queue(read func(br pgx.BatchResults) error, sql string, args ...any) {
	p.batch.Queue(sql, args...)
	p.reads = append(p.reads, read)
}

// exec queues a statement whose only result is success. mapErr, when set,
// may turn the server's error into a domain error; it returns nil to
// leave an error as it is.
func (p *pipeline) exec(what string, mapErr func(err error) error, sql string, args ...any) {
	p.queue(func(br pgx.BatchResults) error {
		_, err := br.Exec()
		if err == nil {
			return nil
		}
		if mapErr != nil {
			if mapped := mapErr(err); mapped != nil {
				return mapped
			}
		}
		return fmt.Errorf("%s: %w", what, err)
	}, sql, args...)
}
