package app

import (
	"context"
	"log/slog"

	"github.com/huabian-live/huabian/internal/channel"
	"github.com/huabian-live/huabian/internal/store/sqlstore"
)

// OpenChannels opens the database in dataDir (running migrations) and the
// key sealer, and returns the channel service on top of them. The server and
// the CLI share it, so both always see the same store. log may be nil.
func OpenChannels(ctx context.Context, dataDir string, log *slog.Logger) (*channel.Service, func() error, error) {
	st, channels, err := openStore(ctx, dataDir, log)
	if err != nil {
		return nil, nil, err
	}
	return channels, st.Close, nil
}

// openStore opens the database and the channel service on it.
func openStore(ctx context.Context, dataDir string, log *slog.Logger) (*sqlstore.Store, *channel.Service, error) {
	st, err := sqlstore.Open(ctx, dataDir, log)
	if err != nil {
		return nil, nil, err
	}
	sealer, err := channel.OpenSealer(dataDir)
	if err != nil {
		st.Close()
		return nil, nil, err
	}
	return st, channel.NewService(st, sealer), nil
}
