package slack

import (
	"github.com/oncallbot/bot/internal/config"
	"github.com/oncallbot/bot/internal/incident"
)

func chatIncident(id int64, title string) incident.Incident {
	return incident.Incident{ID: id, Title: title}
}

// teamRoom is a configuration with one team, whose room is channel.
func teamRoom(team, channel string) *config.Config {
	return &config.Config{Teams: []config.Team{{Name: team, Rooms: config.Rooms{Slack: channel}}}}
}
