package postgres

import (
	"testing"
	"testing/fstest"
)

func TestLoadMigrations(t *testing.T) {
	ms, err := loadMigrations(migrationFiles)
	if err != nil {
		t.Fatalf("embedded migrations: %v", err)
	}
	if len(ms) == 0 || ms[0].version != 1 {
		t.Fatalf("embedded migrations start at %v, want version 1", ms)
	}
	for i := 1; i < len(ms); i++ {
		if ms[i].version <= ms[i-1].version {
			t.Errorf("migration %s sorted after %s", ms[i].name, ms[i-1].name)
		}
	}
}

func TestLoadMigrationsRejectsBadFiles(t *testing.T) {
	sql := &fstest.MapFile{Data: []byte("SELECT 1;")}
	tests := []struct {
		name  string
		files fstest.MapFS
	}{
		{"no number", fstest.MapFS{"migrations/initial.sql": sql}},
		{"no name", fstest.MapFS{"migrations/001.sql": sql}},
		{"version zero", fstest.MapFS{"migrations/000_initial.sql": sql}},
		{"shared version", fstest.MapFS{"migrations/001_a.sql": sql, "migrations/1_b.sql": sql}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if ms, err := loadMigrations(tt.files); err == nil {
				t.Errorf("loaded %v, want an error", ms)
			}
		})
	}
}

func TestLoadMigrationsOrdersByNumber(t *testing.T) {
	files := fstest.MapFS{
		"migrations/010_c.sql": {Data: []byte("-- c")},
		"migrations/002_b.sql": {Data: []byte("-- b")},
		"migrations/001_a.sql": {Data: []byte("-- a")},
	}
	ms, err := loadMigrations(files)
	if err != nil {
		t.Fatal(err)
	}
	var got []int
	for _, m := range ms {
		got = append(got, m.version)
	}
	if len(got) != 3 || got[0] != 1 || got[1] != 2 || got[2] != 10 {
		t.Errorf("versions %v, want [1 2 10]", got)
	}
}
