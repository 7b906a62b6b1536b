package main

import (
	"log"

	"github.com/gin-contrib/sessions"
)

// SessionStorage is the Logto SDK's client.Storage over a gin session. With the memstore
// used in main.go the cookie carries only a session id: the tokens stay on the server.
type SessionStorage struct {
	session sessions.Session
}

func (storage *SessionStorage) GetItem(key string) string {
	value, ok := storage.session.Get(key).(string)
	if !ok {
		return ""
	}
	return value
}

func (storage *SessionStorage) SetItem(key, value string) {
	storage.session.Set(key, value)
	if err := storage.session.Save(); err != nil {
		log.Printf("saving the session: %v", err)
	}
}
