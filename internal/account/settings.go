package account

import (
	"context"
	"fmt"
	"strconv"
)

// Settings are the site settings an admin edits.
type Settings struct {
	SiteName   string `json:"site_name"`   // 1-80 characters
	SignupOpen bool   `json:"signup_open"` // whether visitors may create accounts
	Footer     Footer `json:"footer"`
}

// Footer is the operator information shown at the foot of every page;
// each field is at most 200 characters, empty to hide it.
type Footer struct {
	Operator     string `json:"operator"`
	Copyright    string `json:"copyright"`
	Licence      string `json:"licence"`
	Registration string `json:"registration"` // e.g. an ICP filing number
}

// DefaultSiteName is the site name until an admin sets one.
const DefaultSiteName = "Huabian Live"

// Keys of the site_settings table.
const (
	keySiteName     = "site_name"
	keySignupOpen   = "signup_open"
	keyOperator     = "footer.operator"
	keyCopyright    = "footer.copyright"
	keyLicence      = "footer.licence"
	keyRegistration = "footer.registration"
)

// Settings returns the site settings, with defaults for those never set.
func (s *Service) Settings(ctx context.Context) (Settings, error) {
	m, err := s.st.SiteSettings(ctx)
	if err != nil {
		return Settings{}, err
	}
	set := Settings{SiteName: DefaultSiteName, SignupOpen: true}
	if v, ok := m[keySiteName]; ok && v != "" {
		set.SiteName = v
	}
	if v, ok := m[keySignupOpen]; ok {
		if b, err := strconv.ParseBool(v); err == nil {
			set.SignupOpen = b
		}
	}
	set.Footer = Footer{
		Operator: m[keyOperator], Copyright: m[keyCopyright],
		Licence: m[keyLicence], Registration: m[keyRegistration],
	}
	return set, nil
}

// PutSettings validates and stores set, returning it as stored (trimmed,
// NFC). An invalid field gives an error wrapping ErrBadSetting that names it.
func (s *Service) PutSettings(ctx context.Context, set Settings) (Settings, error) {
	var err error
	if set.SiteName, err = cleanText(set.SiteName, 80, ErrBadSetting); err != nil || set.SiteName == "" {
		return Settings{}, fmt.Errorf("%w: site_name must be 1 to 80 characters", ErrBadSetting)
	}
	for _, f := range []struct {
		name string
		v    *string
	}{
		{"footer.operator", &set.Footer.Operator},
		{"footer.copyright", &set.Footer.Copyright},
		{"footer.licence", &set.Footer.Licence},
		{"footer.registration", &set.Footer.Registration},
	} {
		if *f.v, err = cleanText(*f.v, 200, ErrBadSetting); err != nil {
			return Settings{}, fmt.Errorf("%w: %s must be at most 200 characters, without control characters", ErrBadSetting, f.name)
		}
	}
	err = s.st.PutSiteSettings(ctx, map[string]string{
		keySiteName:     set.SiteName,
		keySignupOpen:   strconv.FormatBool(set.SignupOpen),
		keyOperator:     set.Footer.Operator,
		keyCopyright:    set.Footer.Copyright,
		keyLicence:      set.Footer.Licence,
		keyRegistration: set.Footer.Registration,
	})
	if err != nil {
		return Settings{}, err
	}
	return set, nil
}
