package main

import (
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/refundbot/refundbot/bot"
	"github.com/refundbot/refundbot/bot/sendlimit"
	"github.com/refundbot/refundbot/flows"
	buyerflow "github.com/refundbot/refundbot/flows/buyer"
	"github.com/refundbot/refundbot/flows/desk"
	"github.com/refundbot/refundbot/flows/redisstore"
	"github.com/refundbot/refundbot/refund"
	"github.com/refundbot/refundbot/refund/outbox"
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
	// DeskAutoAssign gives new escalations to online agents
	// (DESK_AUTO_ASSIGN=on), at most DeskAgentCap each (DESK_AGENT_CAP).
	DeskAutoAssign bool
	DeskAgentCap   int
	// DeskRelayTeam relays held chats in the team chat only (DESK_RELAY=team),
	// never in the agents' private chats with the bot.
	DeskRelayTeam bool
	// DeskHours are the agents' working hours (DESK_HOURS), in the shop's
	// time zone with the policy's holidays; empty is always open.
	DeskHours refund.DeskHours
	// AgentRefresh is how often the agents' names, usernames and team
	// chat membership are read from Telegram (AGENT_REFRESH).
	AgentRefresh time.Duration
	// WebhookURL, when set, switches from long polling to a webhook that
	// Telegram calls with WebhookSecret; HTTP_ADDR serves it at the URL's
	// path.
	WebhookURL    string
	WebhookSecret string
	// SendLimits are Telegram's limits, shared by all replicas through
	// Redis; PaceSends false sends unpaced (a Bot API server without
	// limits), leaving only 429s to slow the bot down.
	SendLimits sendlimit.Limits
	PaceSends  bool
	// LeaseTTL is how long a replica that died mid-update keeps the chat.
	LeaseTTL time.Duration
	// OutboxLease is how long a replica that died mid-delivery keeps the
	// outbox items it claimed.
	OutboxLease time.Duration
	// FloodLimit inputs a minute per chat are handled; the rest dropped.
	FloodLimit int
	// ShutdownGrace is how long updates in hand may take after SIGTERM.
	ShutdownGrace time.Duration
	// LogLevel is the least severe log record written.
	LogLevel slog.Level
}

// webhookPath is where the webhook is served: WEBHOOK_URL's path.
func (c Config) webhookPath() string {
	u, err := url.Parse(c.WebhookURL)
	if err != nil || u.Path == "" {
		return "/"
	}
	return u.Path
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
	pattern, err := regexp.Compile(orDefault(getenv("ORDER_ID_PATTERN"), buyerflow.DefaultOrderIDPattern))
	if err != nil {
		problems = append(problems, fmt.Errorf("ORDER_ID_PATTERN: %w", err))
	}
	c.OrderIDPattern = pattern
	if err := readDuration(getenv, "SESSION_IDLE_TTL", "24h", &c.IdleTTL); err != nil {
		problems = append(problems, err)
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
	if err := readDuration(getenv, "AGENT_HOLD_TIMEOUT", "15m", &c.AgentHoldTimeout); err != nil {
		problems = append(problems, err)
	}
	c.AgentRefresh = desk.DefaultStaffRefresh
	if err := readDuration(getenv, "AGENT_REFRESH", "10m", &c.AgentRefresh); err != nil {
		problems = append(problems, err)
	}
	switch v := strings.ToLower(getenv("DESK_AUTO_ASSIGN")); v {
	case "", "off", "false", "0":
	case "on", "true", "1":
		c.DeskAutoAssign = true
	default:
		problems = append(problems, fmt.Errorf("DESK_AUTO_ASSIGN: want on or off, got %q", v))
	}
	switch v := strings.ToLower(getenv("DESK_RELAY")); v {
	case "", "private":
	case "team":
		c.DeskRelayTeam = true
	default:
		problems = append(problems, fmt.Errorf("DESK_RELAY: want private or team, got %q", v))
	}
	c.DeskAgentCap = desk.DefaultAgentCap
	if v := getenv("DESK_AGENT_CAP"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > 100 {
			problems = append(problems, fmt.Errorf("DESK_AGENT_CAP: want 1 to 100 chats per agent, got %q", v))
		}
		c.DeskAgentCap = n
	}
	hours, err := refund.ParseDeskHours(getenv("DESK_HOURS"), c.Policy.Calendar, c.Location)
	if err != nil {
		problems = append(problems, fmt.Errorf("DESK_HOURS: %s", refund.ErrorMessage(err)))
	}
	c.DeskHours = hours
	if c.ShopWebhookURL != "" && c.ShopWebhookSecret == "" {
		problems = append(problems, errors.New("SHOP_WEBHOOK_SECRET is required with SHOP_WEBHOOK_URL"))
	}
	if err := readDuration(getenv, "SWEEP_INTERVAL", "1m", &c.SweepInterval); err != nil {
		problems = append(problems, err)
	}
	problems = append(problems, c.readProduction(getenv)...)
	if len(problems) > 0 {
		return c, &configError{problems: problems}
	}
	return c, nil
}

// readProduction reads the settings of running as many replicas: the
// webhook, the shared send limits, leases, flood limit, shutdown and logs.
func (c *Config) readProduction(getenv func(string) string) []error {
	var problems []error
	c.WebhookURL, c.WebhookSecret = getenv("WEBHOOK_URL"), getenv("WEBHOOK_SECRET")
	if c.WebhookURL != "" {
		u, err := url.Parse(c.WebhookURL)
		if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
			problems = append(problems, fmt.Errorf("WEBHOOK_URL: want the public https URL Telegram posts to, got %q", c.WebhookURL))
		}
		if !validSecretToken(c.WebhookSecret) {
			problems = append(problems, errors.New("WEBHOOK_SECRET: required with WEBHOOK_URL: 1-256 characters of A-Z, a-z, 0-9, _ and -"))
		}
	}
	c.SendLimits, c.PaceSends = sendlimit.DefaultLimits(), true
	for _, lim := range []struct {
		name string
		rate *sendlimit.Rate
	}{
		{"SEND_RATE_GLOBAL", &c.SendLimits.Global},
		{"SEND_RATE_CHAT", &c.SendLimits.Chat},
		{"SEND_RATE_GROUP", &c.SendLimits.Group},
	} {
		v := getenv(lim.name)
		switch {
		case v == "":
		case v == "off":
			c.PaceSends = false
		default:
			n, err := strconv.Atoi(v)
			if err != nil || n <= 0 {
				problems = append(problems, fmt.Errorf("%s: want a positive number of messages (or off), got %q", lim.name, v))
				continue
			}
			lim.rate.Count = n
		}
	}
	c.LeaseTTL = redisstore.DefaultLeaseTTL
	c.ShutdownGrace = 10 * time.Second
	c.OutboxLease = outbox.DefaultLease
	for _, d := range []struct {
		name, example string
		into          *time.Duration
	}{{"CHAT_LEASE_TTL", "10s", &c.LeaseTTL}, {"SHUTDOWN_GRACE", "10s", &c.ShutdownGrace}, {"OUTBOX_LEASE", "1m", &c.OutboxLease}} {
		if err := readDuration(getenv, d.name, d.example, d.into); err != nil {
			problems = append(problems, err)
		}
	}
	c.FloodLimit = redisstore.DefaultFloodLimit
	if v := getenv("FLOOD_LIMIT"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n <= 0 {
			problems = append(problems, fmt.Errorf("FLOOD_LIMIT: want a positive number of messages a minute, got %q", v))
		}
		c.FloodLimit = n
	}
	if v := getenv("LOG_LEVEL"); v != "" {
		if err := c.LogLevel.UnmarshalText([]byte(v)); err != nil {
			problems = append(problems, fmt.Errorf("LOG_LEVEL: want debug, info, warn or error, got %q", v))
		}
	}
	return problems
}

// readDuration sets *into from the variable name when it is set; a value
// that is no positive duration is a problem naming an example.
func readDuration(getenv func(string) string, name, example string, into *time.Duration) error {
	v := getenv(name)
	if v == "" {
		return nil
	}
	d, err := time.ParseDuration(v)
	if err != nil || d <= 0 {
		return fmt.Errorf("%s: want a positive duration such as %s, got %q", name, example, v)
	}
	*into = d
	return nil
}

// validSecretToken is Telegram's rule for setWebhook's secret_token.
func validSecretToken(s string) bool {
	if len(s) == 0 || len(s) > 256 {
		return false
	}
	for _, r := range s {
		if !(r >= 'A' && r <= 'Z' || r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || r == '_' || r == '-') {
			return false
		}
	}
	return true
}

func orDefault(v, def string) string {
	if v == "" {
		return def
	}
	return v
}
