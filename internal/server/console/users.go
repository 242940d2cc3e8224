package console

// The users and sites page (admins), and the users list the connection form offers.

import (
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/vtsoar/vtsoar/internal/store"
)

// user is a user as the API shows it.
type user struct {
	Name      string    `json:"name"`
	Role      string    `json:"role"`
	Sites     []string  `json:"sites"`
	CreatedAt time.Time `json:"created_at"`
}

func (c *Console) usersList(r *http.Request, s *session) ([]user, error) {
	var us struct {
		Users []user `json:"users"`
	}
	// GET /api/v1/users is for admins: an analyst is refused here, by the API.
	err := c.call(r, s, "GET", "/api/v1/users", nil, &us)
	return us.Users, err
}

type usersData struct {
	Users []user
	// Sites are the sites named by users and connections, with who and what serves
	// them.
	Sites []siteRow
}

type siteRow struct {
	Name        string
	Users       []string
	Connections []string
}

func (c *Console) users(w http.ResponseWriter, r *http.Request, s *session) error {
	us, err := c.usersList(r, s)
	if err != nil {
		return err
	}
	var list struct {
		Connections []store.ConnectionView `json:"connections"`
	}
	if err := c.call(r, s, "GET", "/api/v1/connections", nil, &list); err != nil {
		return err
	}
	sites := map[string]*siteRow{}
	row := func(name string) *siteRow {
		if sites[name] == nil {
			sites[name] = &siteRow{Name: name}
		}
		return sites[name]
	}
	for _, u := range us {
		for _, st := range u.Sites {
			if st != store.AllSites {
				row(st).Users = append(row(st).Users, u.Name)
			}
		}
	}
	for _, cn := range list.Connections {
		for _, st := range cn.Sites {
			row(st).Connections = append(row(st).Connections, cn.Name)
		}
	}
	d := usersData{Users: us}
	for _, sr := range sites {
		d.Sites = append(d.Sites, *sr)
	}
	slices.SortFunc(d.Sites, func(a, b siteRow) int { return strings.Compare(a.Name, b.Name) })
	c.render(w, r, http.StatusOK, "users", &view{Title: "Users and sites", Session: s, Data: d})
	return nil
}
