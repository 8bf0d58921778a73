package main

// Opening the stores: Redis for the dialogs, PostgreSQL for the cases.

import (
	"context"
	"fmt"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/refundbot/refundbot/refund/postgres"
)

// redisPipelineBuffer sizes the buffers of the Redis client's pipeline
// connections as its other connections' (32 KiB).
const redisPipelineBuffer = 32 << 10

func openRedis(ctx context.Context, url string) (*redis.Client, error) {
	opts, err := redis.ParseURL(url)
	if err != nil {
		return nil, fmt.Errorf("REDIS_URL: %w", err)
	}
	// A turn's pipeline is a few kilobytes (its session, its replies, the
	// dispatcher's marks riding along): go-redis's 128 KiB pipeline
	// buffers, each way on each of its ten pipeline connections, were
	// 2.5 MiB of memory for nothing. A REDIS_URL's own sizes still win.
	if opts.PipelineReadBufferSize == 0 {
		opts.PipelineReadBufferSize = redisPipelineBuffer
	}
	if opts.PipelineWriteBufferSize == 0 {
		opts.PipelineWriteBufferSize = redisPipelineBuffer
	}
	rdb := redis.NewClient(opts)
	pingCtx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	if err := rdb.Ping(pingCtx).Err(); err != nil {
		rdb.Close()
		return nil, fmt.Errorf("connect to Redis at %s: %w", opts.Addr, err)
	}
	return rdb, nil
}

func openPostgres(ctx context.Context, cfg Config) (*postgres.DB, error) {
	var opts []postgres.Option
	if cfg.DatabaseSchema != "" {
		opts = append(opts, postgres.WithSchema(cfg.DatabaseSchema))
	}
	db, err := postgres.Open(ctx, cfg.DatabaseURL, opts...)
	if err != nil {
		return nil, fmt.Errorf("open PostgreSQL: %w", err)
	}
	return db, nil
}
