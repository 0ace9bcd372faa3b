package channel

// Category is one node of the built-in category hierarchy. Slugs are
// unique; a child's slug starts with its parent's and a dash. Name is the
// English name; localised names are in the catalogue under
// "channels.category.<slug>".
type Category struct {
	Slug     string
	Name     string
	Parent   *Category
	Children []*Category
}

// Path returns the categories from the root down to c (the breadcrumbs
// after Home).
func (c *Category) Path() []*Category {
	var p []*Category
	for x := c; x != nil; x = x.Parent {
		p = append([]*Category{x}, p...)
	}
	return p
}

// Slugs returns c's slug and those of all its descendants: browsing a
// parent category lists its children's channels too.
func (c *Category) Slugs() []string {
	s := []string{c.Slug}
	for _, ch := range c.Children {
		s = append(s, ch.Slugs()...)
	}
	return s
}

// categoryTree is the hierarchy: parent slug and name, then children.
var categoryTree = []struct {
	slug, name string
	children   [][2]string
}{
	{"games", "Games", [][2]string{{"strategy", "Strategy"}, {"action", "Action"}, {"rpg", "Role-playing"}, {"shooters", "Shooters"}}},
	{"music", "Music", [][2]string{{"performance", "Performance"}, {"dj", "DJ sets"}}},
	{"creative", "Creative", [][2]string{{"art", "Art"}, {"makers", "Makers"}}},
	{"irl", "IRL", [][2]string{{"talk", "Talk shows"}, {"travel", "Travel"}, {"food", "Food"}}},
	{"education", "Education", [][2]string{{"science", "Science"}, {"programming", "Programming"}, {"languages", "Languages"}}},
	{"sports", "Sports", [][2]string{{"esports", "Esports"}, {"outdoor", "Outdoor"}}},
}

var (
	rootCategories []*Category
	categoryBySlug = map[string]*Category{}
)

func init() {
	for _, p := range categoryTree {
		parent := &Category{Slug: p.slug, Name: p.name}
		categoryBySlug[parent.Slug] = parent
		for _, c := range p.children {
			child := &Category{Slug: p.slug + "-" + c[0], Name: c[1], Parent: parent}
			parent.Children = append(parent.Children, child)
			categoryBySlug[child.Slug] = child
		}
		rootCategories = append(rootCategories, parent)
	}
}

// Categories returns the top-level categories, in display order. Callers
// must not modify them.
func Categories() []*Category { return rootCategories }

// CategoryBySlug returns the category with slug.
func CategoryBySlug(slug string) (*Category, bool) {
	c, ok := categoryBySlug[slug]
	return c, ok
}
