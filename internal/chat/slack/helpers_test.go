package slack

import "github.com/oncallbot/bot/internal/incident"

func chatIncident(id int64, title string) incident.Incident {
	return incident.Incident{ID: id, Title: title}
}
