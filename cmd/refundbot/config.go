package main

import (
	"errors"
	"fmt"
	"regexp"
	"strconv"
	"time"

	"github.com/refundbot/refundbot/bot"
	"github.com/refundbot/refundbot/flows"
	"github.com/refundbot/refundbot/refund"
	"github.com/refundbot/refundbot/refund/policyfile"
)

// Config is refundbot's configuration, read from the environment.
type Config struct {
	Token          string
	Endpoint       string
	RedisURL       string
	RedisPrefix    string
	DatabaseURL    string
	DatabaseSchema string
	HTTPAddr       string
	ShopAPIToken   string
	Location       *time.Location
	OrderIDPattern *regexp.Regexp
	IdleTTL        time.Duration
	// Policy is the refund rulebook: POLICY_FILE, or the defaults.
	Policy refund.Policy
	// ShopWebhookURL receives original-route payouts, signed with
	// ShopWebhookSecret; without it payouts wait in the outbox.
	ShopWebhookURL    string
	ShopWebhookSecret string
	// SweepInterval is how often deadlines are checked.
	SweepInterval time.Duration
	// AgentChatID is the agents' team chat; 0 means no human desk.
	AgentChatID int64
	// Agents bootstraps the staff list (AGENT_USER_IDS).
	Agents []refund.Agent
	// AgentHoldTimeout returns a silent hold to the queue.
	AgentHoldTimeout time.Duration
}

// Sandbox reports whether the bot runs without Telegram, Redis and
// PostgreSQL: no token was given.
func (c Config) Sandbox() bool { return c.Token == "" }

// configError is a configuration problem; main exits with status 2.
type configError struct{ problems []error }

func (e *configError) Error() string { return errors.Join(e.problems...).Error() }

// ConfigFromEnv reads the configuration, listing every problem at once.
func ConfigFromEnv(getenv func(string) string) (Config, error) {
	c := Config{
		Token:          getenv("TELEGRAM_BOT_TOKEN"),
		Endpoint:       orDefault(getenv("TELEGRAM_API_ENDPOINT"), bot.DefaultEndpoint),
		RedisURL:       getenv("REDIS_URL"),
		RedisPrefix:    orDefault(getenv("REDIS_PREFIX"), "refundbot:"),
		DatabaseURL:    getenv("DATABASE_URL"),
		DatabaseSchema: getenv("DATABASE_SCHEMA"),
		HTTPAddr:       orDefault(getenv("HTTP_ADDR"), "127.0.0.1:8080"),
		ShopAPIToken:   getenv("SHOP_API_TOKEN"),
		IdleTTL:        flows.DefaultIdleTTL,
		Policy:         refund.DefaultPolicy(),
		ShopWebhookURL: getenv("SHOP_WEBHOOK_URL"),
		// The secret is read from the environment only; it is never logged.
		ShopWebhookSecret: getenv("SHOP_WEBHOOK_SECRET"),
		SweepInterval:     time.Minute,
	}
	var problems []error
	if !c.Sandbox() {
		if c.RedisURL == "" {
			problems = append(problems, errors.New("REDIS_URL is required when TELEGRAM_BOT_TOKEN is set"))
		}
		if c.DatabaseURL == "" {
			problems = append(problems, errors.New("DATABASE_URL is required when TELEGRAM_BOT_TOKEN is set"))
		}
	}
	loc, err := time.LoadLocation(orDefault(getenv("SHOP_TIMEZONE"), "Asia/Shanghai"))
	if err != nil {
		problems = append(problems, fmt.Errorf("SHOP_TIMEZONE: %w", err))
	}
	c.Location = loc
	pattern, err := regexp.Compile(orDefault(getenv("ORDER_ID_PATTERN"), flows.DefaultOrderIDPattern))
	if err != nil {
		problems = append(problems, fmt.Errorf("ORDER_ID_PATTERN: %w", err))
	}
	c.OrderIDPattern = pattern
	if v := getenv("SESSION_IDLE_TTL"); v != "" {
		d, err := time.ParseDuration(v)
		if err != nil || d <= 0 {
			problems = append(problems, fmt.Errorf("SESSION_IDLE_TTL: want a positive duration such as 24h, got %q", v))
		}
		c.IdleTTL = d
	}
	if path := getenv("POLICY_FILE"); path != "" {
		p, err := policyfile.Load(path)
		if err != nil {
			problems = append(problems, fmt.Errorf("POLICY_FILE: %w", err))
		}
		c.Policy = p
	}
	if v := getenv("AGENT_CHAT_ID"); v != "" {
		id, err := strconv.ParseInt(v, 10, 64)
		if err != nil || id == 0 {
			problems = append(problems, fmt.Errorf("AGENT_CHAT_ID: want the team chat's numeric id (e.g. -1001234567890), got %q", v))
		}
		c.AgentChatID = id
	}
	agents, err := parseAgentList(getenv("AGENT_USER_IDS"))
	if err != nil {
		problems = append(problems, fmt.Errorf("AGENT_USER_IDS: %w", err))
	}
	c.Agents = agents
	c.AgentHoldTimeout = 15 * time.Minute
	if v := getenv("AGENT_HOLD_TIMEOUT"); v != "" {
		d, err := time.ParseDuration(v)
		if err != nil || d <= 0 {
			problems = append(problems, fmt.Errorf("AGENT_HOLD_TIMEOUT: want a positive duration such as 15m, got %q", v))
		}
		c.AgentHoldTimeout = d
	}
	if c.ShopWebhookURL != "" && c.ShopWebhookSecret == "" {
		problems = append(problems, errors.New("SHOP_WEBHOOK_SECRET is required with SHOP_WEBHOOK_URL"))
	}
	if v := getenv("SWEEP_INTERVAL"); v != "" {
		d, err := time.ParseDuration(v)
		if err != nil || d <= 0 {
			problems = append(problems, fmt.Errorf("SWEEP_INTERVAL: want a positive duration such as 1m, got %q", v))
		}
		c.SweepInterval = d
	}
	if len(problems) > 0 {
		return c, &configError{problems: problems}
	}
	return c, nil
}

func orDefault(v, def string) string {
	if v == "" {
		return def
	}
	return v
}
