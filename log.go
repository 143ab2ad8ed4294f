package twiliosms

import (
	"context"
	"errors"
	"log/slog"
	"time"
)

func (c *Connector) logAttempt(ctx context.Context, usage UsageType, to string, attempt int, d time.Duration, res *SendResult, err error) {
	if c.logger == nil || !c.logger.Enabled(ctx, slog.LevelDebug) {
		return
	}
	c.logger.LogAttrs(ctx, slog.LevelDebug, "twiliosms: attempt", sendAttrs(usage, to, attempt, d, res, err)...)
}

func (c *Connector) logOutcome(ctx context.Context, usage UsageType, to string, attempts int, d time.Duration, res *SendResult, err error) {
	level, msg := slog.LevelInfo, "twiliosms: sent"
	if err != nil {
		level, msg = slog.LevelWarn, "twiliosms: send failed"
	}
	if c.logger == nil || !c.logger.Enabled(ctx, level) {
		return
	}
	c.logger.LogAttrs(ctx, level, msg, sendAttrs(usage, to, attempts, d, res, err)...)
}

func sendAttrs(usage UsageType, to string, attempt int, d time.Duration, res *SendResult, err error) []slog.Attr {
	attrs := []slog.Attr{
		slog.String("usage_type", string(usage)),
		slog.String("to", MaskPhone(to)),
		slog.Int("attempt", attempt),
		slog.Duration("duration", d),
	}
	if res != nil {
		return append(attrs, slog.String("sid", res.SID), slog.String("status", res.Status))
	}
	attrs = append(attrs, slog.String("error", kindOf(err)))
	var apiErr *APIError
	if errors.As(err, &apiErr) {
		attrs = append(attrs, slog.Int("http_status", apiErr.Status), slog.Int("error_code", apiErr.Code))
	}
	return attrs
}
