"""The kinds of site the offline model knows, with the copy each one gets.

A real model writes fitting copy for whatever it is asked; the offline model picks the closest
kind from a keyword table and fills in the name. Copy may hold ``{name}`` and ``{place}``
(" in Lisbon" or ""), replaced by :mod:`site_design` before the text is escaped.

The table is ordered: the first kind whose keywords appear wins, so specific kinds come before
broad ones ("photographer portfolio" is photography, "tea shop" is not a generic shop).
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict

from tmux_builder.offline_model.text_match import first_position, has_phrase

Layout = Literal["cards", "gallery", "list", "steps", "quotes", "faq"]


class Item(BaseModel):
    model_config = ConfigDict(frozen=True)

    title: str
    text: str = ""
    meta: str = ""


class SectionCopy(BaseModel):
    model_config = ConfigDict(frozen=True)

    id: str
    label: str
    heading: str
    intro: str
    layout: Layout
    items: tuple[Item, ...]


class SiteKind(BaseModel):
    model_config = ConfigDict(frozen=True)

    key: str
    label: str
    title_suffix: str
    promise: str
    keywords: tuple[str, ...]
    # 0: a format that decides the whole site (blog, wedding); 1: a kind of business;
    # 2: a broad format (portfolio, shop) that yields to a business named alongside it.
    priority: int = 1
    excludes: tuple[str, ...] = ()
    default_name: str
    accent: str
    dark_by_default: bool = False
    serif: bool = False
    motif: str
    audience: str
    tagline: str
    hero_text: str
    cta: str
    sections: tuple[SectionCopy, ...]
    contact_heading: str
    contact_intro: str
    message_hint: str


def _s(id_: str, label: str, heading: str, intro: str, layout: Layout, *items: Item) -> SectionCopy:
    return SectionCopy(
        id=id_, label=label, heading=heading, intro=intro, layout=layout, items=items
    )


def _i(title: str, text: str = "", meta: str = "") -> Item:
    return Item(title=title, text=text, meta=meta)


KINDS: tuple[SiteKind, ...] = (
    SiteKind(
        key="photography",
        label="photography portfolio",
        title_suffix="Photography Portfolio",
        promise="Photographs with patience and light",
        keywords=("photographer", "photography", "photographs", "photo studio"),
        default_name="Lumen Photography",
        accent="#c9a227",
        serif=True,
        motif="camera",
        audience="Couples, families and brands looking for a photographer with a calm eye",
        tagline="Portraits, places and quiet moments, photographed{place} by {name}.",
        hero_text="I work with natural light and very little fuss, so the pictures look "
        "like the people in them on a good day.",
        cta="Book a session",
        sections=(
            _s(
                "gallery",
                "Gallery",
                "Selected work",
                "A few frames from recent commissions and personal projects.",
                "gallery",
                _i("Morning portraits", "Soft window light, no studio"),
                _i("City at dusk", "Long exposures along the river"),
                _i("Small weddings", "Twelve guests, one long table"),
                _i("Makers at work", "A ceramicist's studio series"),
                _i("Coastline", "Film photographs from a winter walk"),
                _i("Family afternoons", "Unposed, at home, kids in charge"),
            ),
            _s(
                "services",
                "Services",
                "Ways to work together",
                "Every session includes planning, editing and an online gallery.",
                "cards",
                _i(
                    "Portrait session",
                    "One hour, one location, 25 edited photographs.",
                    "from €220",
                ),
                _i("Events", "Weddings, launches and birthdays, up to eight hours.", "from €900"),
                _i("Brand imagery", "Product and team photographs for your website.", "from €480"),
            ),
            _s(
                "about",
                "About",
                "About {name}",
                "Twelve years behind the camera, first in newsrooms, now for people.",
                "steps",
                _i("We talk", "A short call about what the pictures are for."),
                _i("We shoot", "Relaxed, unhurried, mostly candid."),
                _i("You choose", "A private gallery to pick, download and print from."),
            ),
        ),
        contact_heading="Book a session",
        contact_intro="Tell me the date, the place and what the photographs are for.",
        message_hint="Date, location and what you would like photographed",
    ),
    SiteKind(
        key="wedding",
        label="wedding website",
        title_suffix="Our Wedding",
        promise="Join us to celebrate",
        keywords=("wedding", "getting married", "bride", "groom", "engagement", "rsvp"),
        priority=0,
        excludes=("wedding photographer", "wedding photography", "wedding planner", "bridal shop"),
        default_name="Sam & Alex",
        accent="#c08497",
        serif=True,
        motif="rings",
        audience="Family and friends invited to the wedding",
        tagline="{name} are getting married{place}, and we would love you to be there.",
        hero_text="Everything you need for the day: when, where, how to get there and how "
        "to let us know you are coming.",
        cta="RSVP",
        sections=(
            _s(
                "story",
                "Our story",
                "How it started",
                "A bookshop, a borrowed umbrella and a very long conversation.",
                "steps",
                _i("First meeting", "Both reaching for the last copy of the same novel."),
                _i("First trip", "A rainy week by the sea that we would repeat tomorrow."),
                _i("The question", "Asked on a hill at sunrise; the answer was quick."),
            ),
            _s(
                "schedule",
                "Schedule",
                "The day",
                "Times are local. Comfortable shoes are a good idea.",
                "list",
                _i("Ceremony", "In the garden, rain or shine", "15:00"),
                _i("Drinks and photographs", "On the terrace", "16:00"),
                _i("Dinner", "Long tables in the barn", "18:30"),
                _i("Dancing", "Until the band gives up", "21:00"),
            ),
            _s(
                "travel",
                "Travel",
                "Getting there and staying over",
                "We have reserved rooms nearby; mention the wedding when you book.",
                "cards",
                _i("By train", "The station is a ten-minute shuttle ride away."),
                _i("By car", "Free parking on site; follow the signs for the barn."),
                _i("Where to stay", "Two guesthouses within walking distance."),
            ),
        ),
        contact_heading="RSVP",
        contact_intro="Please reply by the end of next month so we can plan the tables.",
        message_hint="Who is coming, and any dietary needs",
    ),
    SiteKind(
        key="tea",
        label="tea shop",
        title_suffix="Tea Shop",
        promise="Loose-leaf teas and quiet tastings",
        keywords=("tea shop", "tea house", "teahouse", "tea room", "tearoom", "matcha", "tea"),
        default_name="The Tea House",
        accent="#5f8f4e",
        serif=True,
        motif="leaf",
        audience="Tea lovers, curious beginners and neighbours looking for a calm place to sit",
        tagline="Loose-leaf teas, brewed with care{place} at {name}.",
        hero_text="Forty teas from small gardens, weighed to order, and a quiet room to "
        "taste them in.",
        cta="Visit the shop",
        sections=(
            _s(
                "teas",
                "Our teas",
                "On the shelves",
                "A rotating selection from growers we buy from directly.",
                "cards",
                _i(
                    "Sencha Asahi",
                    "Grassy, bright and sweet; a spring harvest from Shizuoka.",
                    "€9 / 50 g",
                ),
                _i("Darjeeling First Flush", "Floral and brisk, best without milk.", "€11 / 50 g"),
                _i("Aged White Peony", "Honey and hay notes that deepen every year.", "€12 / 50 g"),
                _i("Roasted Oolong", "Charcoal-roasted, nutty and warming.", "€10 / 50 g"),
                _i(
                    "Ceremonial Matcha", "Stone-ground, whisked to order in the shop.", "€16 / 30 g"
                ),
                _i("Rooibos & Orange", "Caffeine-free, for late afternoons.", "€7 / 50 g"),
            ),
            _s(
                "tastings",
                "Tastings",
                "Tastings and classes",
                "Small groups, real teaware, no experience needed.",
                "steps",
                _i("Saturday flights", "Three teas side by side with notes on each."),
                _i("Brewing class", "Water, time and temperature for every style."),
                _i("Private sessions", "For birthdays, teams or a quiet afternoon."),
            ),
            _s(
                "visit",
                "Visit",
                "Opening hours",
                "Drop in for a pot, or call ahead for larger groups.",
                "list",
                _i("Monday to Friday", "", "10:00 – 19:00"),
                _i("Saturday", "", "09:00 – 18:00"),
                _i("Sunday", "", "11:00 – 16:00"),
            ),
        ),
        contact_heading="Get in touch",
        contact_intro="Questions about a tea, a tasting or a gift box? Write to us.",
        message_hint="Which tea or tasting you are asking about",
    ),
    SiteKind(
        key="coffee",
        label="coffee shop",
        title_suffix="Coffee Shop",
        promise="Small-batch coffee, roasted nearby",
        keywords=("coffee shop", "coffee", "café", "cafe", "espresso", "roastery", "barista"),
        default_name="Corner Cup Coffee",
        accent="#a0522d",
        motif="cup",
        audience="Commuters, remote workers and weekend regulars",
        tagline="Coffee worth slowing down for, poured{place} at {name}.",
        hero_text="We roast twice a week, bake every morning and keep the good table by "
        "the window free for you.",
        cta="See the menu",
        sections=(
            _s(
                "menu",
                "Menu",
                "The menu",
                "Oat, soy and whole milk at no extra cost.",
                "cards",
                _i("Espresso", "Our house blend: chocolate, cherry, a little spice.", "€2.20"),
                _i("Flat white", "Double shot, silky milk, small cup.", "€3.40"),
                _i("Filter of the day", "A single origin, brewed in batches.", "€3.00"),
                _i("Cardamom bun", "Baked at seven, usually gone by eleven.", "€3.20"),
            ),
            _s(
                "beans",
                "Our beans",
                "Where the beans come from",
                "We buy from three farms and visit them when we can.",
                "steps",
                _i("Sourced", "Direct trade with growers in Colombia, Ethiopia and Peru."),
                _i("Roasted", "Light to medium, in small batches, twice a week."),
                _i("Brewed", "Dialled in every morning before we open."),
            ),
            _s(
                "hours",
                "Hours",
                "Opening hours",
                "Wi-Fi and power sockets at every table.",
                "list",
                _i("Weekdays", "", "07:00 – 18:00"),
                _i("Saturday", "", "08:00 – 17:00"),
                _i("Sunday", "", "09:00 – 15:00"),
            ),
        ),
        contact_heading="Say hello",
        contact_intro="Catering, wholesale beans or a booking for a group: drop us a line.",
        message_hint="Catering, wholesale or a table booking",
    ),
    SiteKind(
        key="bakery",
        label="bakery",
        title_suffix="Bakery",
        promise="Bread and pastries, baked before sunrise",
        keywords=("bakery", "baker", "bakes", "pastry", "pastries", "patisserie", "bread", "cakes"),
        default_name="Golden Crust Bakery",
        accent="#d4894a",
        serif=True,
        motif="wheat",
        audience="Neighbours, cafés that stock our bread and anyone ordering a celebration cake",
        tagline="Slow-fermented bread and honest pastries, baked daily{place} by {name}.",
        hero_text="Our sourdough proves for thirty hours. The croissants take three days. "
        "It is worth it.",
        cta="Order a cake",
        sections=(
            _s(
                "breads",
                "Breads",
                "Daily bread",
                "Out of the oven by seven every morning.",
                "cards",
                _i("Country sourdough", "Wheat and rye, dark crust, open crumb.", "€5.50"),
                _i("Seeded rye", "Dense, sour and full of sunflower seeds.", "€6.00"),
                _i("Baguette", "Crisp, light, best eaten on the walk home.", "€2.40"),
            ),
            _s(
                "pastries",
                "Pastries",
                "Pastries and cakes",
                "Butter from a dairy down the road, fruit from the market.",
                "cards",
                _i("Butter croissant", "Laminated over three days.", "€2.60"),
                _i("Cinnamon knot", "Cardamom dough, brown sugar, cinnamon.", "€3.10"),
                _i("Seasonal tart", "Whatever the market has the most of.", "€4.20"),
                _i("Celebration cakes", "Made to order with a week's notice.", "from €38"),
            ),
            _s(
                "story",
                "Our story",
                "How we bake",
                "Three bakers, one stone oven and a lot of patience.",
                "steps",
                _i("Mix", "Flour from a local mill, water, salt and our starter."),
                _i("Wait", "Long, cold fermentation for flavour and digestibility."),
                _i("Bake", "A hot stone oven before dawn, every day but Monday."),
            ),
        ),
        contact_heading="Order or ask",
        contact_intro="Cakes need a week's notice; bread orders for cafés by the day before.",
        message_hint="What you would like to order, and for when",
    ),
    SiteKind(
        key="restaurant",
        label="restaurant",
        title_suffix="Restaurant",
        promise="Seasonal cooking, shared tables",
        keywords=(
            "restaurant",
            "bistro",
            "diner",
            "pizzeria",
            "trattoria",
            "eatery",
            "brasserie",
            "food truck",
            "tavern",
            "sushi",
        ),
        default_name="Olive & Thyme",
        accent="#b5452f",
        serif=True,
        motif="plate",
        audience="Locals booking dinner, visitors looking for a good meal, groups and parties",
        tagline="Seasonal plates to share{place}, cooked at {name}.",
        hero_text="A short menu that changes with the market, a wine list from small "
        "producers, and tables made for long evenings.",
        cta="Book a table",
        sections=(
            _s(
                "menu",
                "Menu",
                "This week's menu",
                "Everything is made here, from the bread to the ice cream.",
                "cards",
                _i("Charred leeks", "Romesco, toasted almonds, sherry vinegar.", "€9"),
                _i("Handmade tagliatelle", "Brown butter, sage, aged pecorino.", "€16"),
                _i("Slow-roasted lamb", "White beans, salsa verde, lemon.", "€24"),
                _i("Burnt Basque cheesecake", "Poached rhubarb.", "€8"),
            ),
            _s(
                "about",
                "About",
                "The kitchen",
                "Small team, open kitchen, wood-fired grill.",
                "steps",
                _i("Market first", "The menu is written after the morning delivery."),
                _i("Whole animal", "We buy whole and cook every part with care."),
                _i("Low waste", "Trimmings become stocks, pickles and staff lunch."),
            ),
            _s(
                "hours",
                "Hours",
                "Opening hours",
                "Walk-ins welcome at the bar; book for groups of six or more.",
                "list",
                _i("Tuesday to Thursday", "Dinner", "18:00 – 22:30"),
                _i("Friday and Saturday", "Lunch and dinner", "12:00 – 23:00"),
                _i("Sunday", "Long lunch", "12:00 – 16:00"),
            ),
        ),
        contact_heading="Book a table",
        contact_intro="Tell us the date, the time and how many you will be.",
        message_hint="Date, time and number of guests",
    ),
    SiteKind(
        key="yoga",
        label="yoga studio",
        title_suffix="Yoga Studio",
        promise="Unhurried classes for every body",
        keywords=("yoga", "pilates", "meditation", "mindfulness"),
        default_name="Still Water Yoga",
        accent="#8e7cc3",
        motif="lotus",
        audience="Beginners, returning practitioners and anyone who wants to move and breathe",
        tagline="Unhurried classes for every body{place} at {name}.",
        hero_text="Small groups, warm rooms and teachers who learn your name. Your first "
        "class is on us.",
        cta="Try a class",
        sections=(
            _s(
                "classes",
                "Classes",
                "Classes",
                "All levels welcome; mats and props provided.",
                "cards",
                _i("Gentle flow", "Slow sequences, long holds, plenty of rest.", "60 min"),
                _i("Vinyasa", "A steady, breath-led practice that builds heat.", "75 min"),
                _i("Yin & breath", "Floor-based poses and guided breathing.", "60 min"),
            ),
            _s(
                "schedule",
                "Schedule",
                "Weekly schedule",
                "Book a spot online or just turn up ten minutes early.",
                "list",
                _i("Monday", "Gentle flow", "07:30"),
                _i("Wednesday", "Vinyasa", "18:30"),
                _i("Friday", "Yin & breath", "19:00"),
                _i("Sunday", "Community class", "10:00"),
            ),
            _s(
                "teachers",
                "Teachers",
                "Our teachers",
                "Trained, insured and still practising every day.",
                "cards",
                _i("Mira", "Ten years teaching; loves a long savasana."),
                _i("Jon", "Former runner; brings strength and humour."),
                _i("Lena", "Meditation teacher and breathwork guide."),
            ),
        ),
        contact_heading="Ask us anything",
        contact_intro="Unsure which class suits you? Write and we will help you choose.",
        message_hint="Your experience and which classes interest you",
    ),
    SiteKind(
        key="gym",
        label="gym",
        title_suffix="Fitness Club",
        promise="Strength training that fits your week",
        keywords=("gym", "fitness", "crossfit", "personal trainer", "workout", "boxing"),
        default_name="Iron Works Gym",
        accent="#ff6b00",
        motif="dumbbell",
        audience="People who want to get stronger, fitter and more confident, at any level",
        tagline="Get stronger with coaches who know your name{place} at {name}.",
        hero_text="Open floor, proper equipment and coached classes that meet you where you are.",
        cta="Start a free week",
        sections=(
            _s(
                "programs",
                "Programs",
                "Programs",
                "Every program starts with a one-to-one assessment.",
                "cards",
                _i("Strength foundations", "Learn the big lifts safely in small groups."),
                _i("Conditioning", "Intervals and circuits for heart and lungs."),
                _i("Personal training", "A plan built around your goals and schedule."),
            ),
            _s(
                "pricing",
                "Membership",
                "Membership",
                "No joining fee and no long contracts.",
                "cards",
                _i("Open gym", "Unlimited access to the floor.", "€39 / month"),
                _i("Classes", "Open gym plus all coached classes.", "€59 / month"),
                _i("Coached", "Classes plus two personal sessions a month.", "€119 / month"),
            ),
            _s(
                "hours",
                "Hours",
                "Opening hours",
                "Members get 24-hour access with their key card.",
                "list",
                _i("Weekdays", "Staffed", "06:00 – 22:00"),
                _i("Weekends", "Staffed", "08:00 – 18:00"),
            ),
        ),
        contact_heading="Start your free week",
        contact_intro="Leave your details and a coach will book your first session.",
        message_hint="Your goals and when you like to train",
    ),
    SiteKind(
        key="portfolio",
        label="portfolio",
        title_suffix="Portfolio",
        promise="Design and code for thoughtful products",
        keywords=(
            "portfolio",
            "designer",
            "developer",
            "freelancer",
            "freelance",
            "illustrator",
            "artist",
            "engineer",
            "architect",
            "resume",
            "cv",
        ),
        priority=2,
        default_name="Studio North",
        accent="#6c5ce7",
        motif="code",
        audience="Hiring managers, clients and collaborators looking at past work",
        tagline="Thoughtful products, designed and built{place} by {name}.",
        hero_text="I turn fuzzy ideas into clear, fast and accessible products, from the "
        "first sketch to the last deploy.",
        cta="Start a project",
        sections=(
            _s(
                "work",
                "Work",
                "Selected projects",
                "A few things I have designed and built recently.",
                "gallery",
                _i("Harbour", "Booking app for a ferry company"),
                _i("Ledger", "Dashboard for small-business accounts"),
                _i("Fieldkit", "Offline-first app for researchers"),
                _i("Atlas", "Design system for a public library"),
            ),
            _s(
                "skills",
                "Skills",
                "What I do",
                "Comfortable across the whole stack, happiest where design meets code.",
                "cards",
                _i("Product design", "Research, flows, prototypes and visual design."),
                _i("Front end", "Semantic HTML, modern CSS, TypeScript, accessibility."),
                _i("Back end", "APIs, data models and cloud deployments."),
            ),
            _s(
                "about",
                "About",
                "About {name}",
                "Ten years of shipping software with small, focused teams.",
                "steps",
                _i("Listen", "Understand the people and the problem first."),
                _i("Sketch", "Cheap experiments before expensive decisions."),
                _i("Ship", "Small releases, measured, improved."),
            ),
        ),
        contact_heading="Let's work together",
        contact_intro="Tell me about your project, your timeline and your budget.",
        message_hint="Your project, timeline and budget",
    ),
    SiteKind(
        key="blog",
        label="blog",
        title_suffix="Blog",
        promise="Notes on things worth noticing",
        keywords=("blog", "journal", "writer", "newsletter", "articles", "essays", "diary"),
        priority=0,
        default_name="Field Notes",
        accent="#2f6fdb",
        serif=True,
        motif="pen",
        audience="Readers who like long, careful writing and subscribe for more",
        tagline="Essays and notes on things worth noticing, written{place} by {name}.",
        hero_text="A new essay every other week, plus short notes in between. No ads, "
        "no tracking, just writing.",
        cta="Read the latest",
        sections=(
            _s(
                "latest",
                "Latest",
                "Latest posts",
                "Fresh from the notebook.",
                "cards",
                _i("The case for slow software", "Why the best tools feel calm.", "8 min read"),
                _i("A year of walking to work", "What 2,000 kilometres taught me.", "6 min read"),
                _i("Notes on repair", "Fixing things as a way of thinking.", "5 min read"),
            ),
            _s(
                "topics",
                "Topics",
                "Topics",
                "What this blog keeps coming back to.",
                "cards",
                _i("Craft", "Making things well, slowly."),
                _i("Cities", "Streets, transit and public space."),
                _i("Books", "What I am reading and why."),
            ),
            _s(
                "about",
                "About",
                "About {name}",
                "Written by one person with a notebook and too many questions.",
                "steps",
                _i("Observe", "Every post starts with something seen or heard."),
                _i("Draft", "Written longhand, then rewritten twice."),
                _i("Publish", "Every other Sunday, by e-mail and here."),
            ),
        ),
        contact_heading="Write to me",
        contact_intro="Replies, corrections and ideas for future posts are all welcome.",
        message_hint="Your thoughts, a correction or an idea",
    ),
    SiteKind(
        key="agency",
        label="agency",
        title_suffix="Creative Agency",
        promise="Brands and websites that people remember",
        keywords=("agency", "marketing", "branding", "creative studio", "advertising"),
        default_name="Brightside Agency",
        accent="#ff5a5f",
        motif="spark",
        audience="Founders and marketing teams who need a brand, a website or a campaign",
        tagline="Brands, websites and campaigns that people remember, made{place} by {name}.",
        hero_text="A small senior team of strategists, designers and developers. No "
        "hand-offs, no juniors learning on your budget.",
        cta="Start a project",
        sections=(
            _s(
                "services",
                "Services",
                "What we do",
                "Strategy through to launch, under one roof.",
                "cards",
                _i("Brand identity", "Naming, logo, voice and visual systems."),
                _i("Websites", "Fast, accessible sites your team can update."),
                _i("Campaigns", "Launches and content that earn attention."),
            ),
            _s(
                "work",
                "Work",
                "Recent work",
                "A few of the teams we have helped lately.",
                "gallery",
                _i("Northwind Ferries", "Rebrand and booking site"),
                _i("Kiln & Co", "Packaging for a ceramics studio"),
                _i("Open Library Week", "National campaign"),
                _i("Greenline Bikes", "Launch film and website"),
            ),
            _s(
                "process",
                "Process",
                "How we work",
                "Clear steps, fixed prices, weekly check-ins.",
                "steps",
                _i("Discover", "Workshops with your team and your customers."),
                _i("Design", "Concepts, feedback rounds and a clear direction."),
                _i("Deliver", "Launch, measure and hand over everything."),
            ),
        ),
        contact_heading="Tell us about your project",
        contact_intro="We reply within two working days with next steps and a rough budget.",
        message_hint="Your goals, timeline and budget",
    ),
    SiteKind(
        key="consulting",
        label="consultancy",
        title_suffix="Consulting",
        promise="Clear advice for growing businesses",
        keywords=("consulting", "consultancy", "consultant", "advisory", "accountant"),
        default_name="Clearpath Consulting",
        accent="#1f4e79",
        motif="chart",
        audience="Owners and leadership teams of growing small and mid-sized businesses",
        tagline="Clear advice for growing businesses{place}, from {name}.",
        hero_text="We help leadership teams decide what to do next and then make it "
        "happen: strategy, operations and finance.",
        cta="Book a call",
        sections=(
            _s(
                "services",
                "Services",
                "How we help",
                "Engagements from two weeks to six months.",
                "cards",
                _i("Strategy", "Where to play, how to win, what to stop doing."),
                _i("Operations", "Processes, tools and teams that scale."),
                _i("Finance", "Forecasts, pricing and funding readiness."),
            ),
            _s(
                "approach",
                "Approach",
                "Our approach",
                "Practical, measurable and owned by your team.",
                "steps",
                _i("Diagnose", "Interviews, data and a frank assessment."),
                _i("Decide", "Options with costs, risks and a recommendation."),
                _i("Deliver", "A plan with owners, dates and measures."),
            ),
            _s(
                "results",
                "Results",
                "Results",
                "What clients saw within a year of working with us.",
                "cards",
                _i("+32% margin", "A distributor after a pricing review."),
                _i("3× faster close", "A services firm's month-end, automated."),
                _i("Series A raised", "A startup's financial model and data room."),
            ),
        ),
        contact_heading="Book a call",
        contact_intro="A free 30-minute call to see whether we can help.",
        message_hint="Your business and the decision in front of you",
    ),
    SiteKind(
        key="shop",
        label="online shop",
        title_suffix="Shop",
        promise="Well-made goods for everyday use",
        keywords=(
            "shop",
            "store",
            "boutique",
            "ecommerce",
            "e-commerce",
            "online shop",
            "products",
        ),
        priority=2,
        default_name="Common Goods",
        accent="#0f9d8a",
        motif="bag",
        audience="Shoppers who prefer fewer, better things",
        tagline="Well-made goods for everyday use, chosen{place} by {name}.",
        hero_text="Every product is tested at home for a month before it reaches the "
        "shelf. Free returns for thirty days.",
        cta="Shop the collection",
        sections=(
            _s(
                "products",
                "Products",
                "Bestsellers",
                "Small batches from makers we know by name.",
                "cards",
                _i("Linen apron", "Stonewashed linen, two deep pockets.", "€42"),
                _i("Stoneware mug", "Hand-thrown, dishwasher safe.", "€24"),
                _i("Wool blanket", "Woven in a family mill.", "€120"),
                _i("Beeswax candle", "Forty hours of clean burn.", "€18"),
            ),
            _s(
                "makers",
                "Makers",
                "Meet the makers",
                "Fair prices, long relationships.",
                "cards",
                _i("The potter", "Fires every mug in a wood kiln."),
                _i("The weavers", "Third generation at the same looms."),
                _i("The chandler", "Local wax from rescued hives."),
            ),
            _s(
                "shipping",
                "Shipping",
                "Shipping and returns",
                "Plastic-free packaging on every order.",
                "list",
                _i("Standard delivery", "2–4 working days", "€4.90"),
                _i("Free delivery", "On orders over €60", "€0"),
                _i("Returns", "Within 30 days", "free"),
            ),
        ),
        contact_heading="Questions about an order?",
        contact_intro="We answer every message within one working day.",
        message_hint="Your order number or question",
    ),
    SiteKind(
        key="landing",
        label="landing page",
        title_suffix="Welcome",
        promise="A simple start for something new",
        keywords=(),
        default_name="Northstar",
        accent="#3b82f6",
        motif="spark",
        audience="People discovering {name} for the first time",
        tagline="{name}: a simple, friendly start for something new{place}.",
        hero_text="Everything you need to know on one page: what we do, why it matters "
        "and how to get in touch.",
        cta="Get in touch",
        sections=(
            _s(
                "features",
                "Features",
                "What you get",
                "The essentials, done well.",
                "cards",
                _i("Simple", "Clear choices and no surprises."),
                _i("Reliable", "Built on proven, boring technology."),
                _i("Friendly", "Real people answer your questions."),
            ),
            _s(
                "how",
                "How it works",
                "How it works",
                "Three steps from hello to done.",
                "steps",
                _i("Say hello", "Tell us what you need with the form below."),
                _i("Get a plan", "We reply with a clear proposal."),
                _i("Enjoy", "We take care of the details."),
            ),
            _s(
                "about",
                "About",
                "About {name}",
                "A small team that cares about doing simple things properly.",
                "cards",
                _i("Our promise", "Honest answers and fair prices."),
                _i("Our team", "Experienced, curious and easy to reach."),
                _i("Our values", "Clarity, care and follow-through."),
            ),
        ),
        contact_heading="Contact us",
        contact_intro="Send a message and we will get back to you within a day.",
        message_hint="How we can help",
    ),
)

FALLBACK_KIND = KINDS[-1]

# Sections a requirement can ask for by name, whatever the kind.
EXTRA_SECTIONS: tuple[tuple[tuple[str, ...], SectionCopy], ...] = (
    (
        ("testimonial", "testimonials", "reviews", "review", "quotes"),
        _s(
            "testimonials",
            "Reviews",
            "What people say",
            "A few kind words from people who know {name}.",
            "quotes",
            _i("It felt personal from the first message.", "", "Priya, returning customer"),
            _i("Exactly what we hoped for, and then some.", "", "Tom and Ines"),
            _i("I recommend {name} to everyone who asks.", "", "Maya, neighbour"),
        ),
    ),
    (
        ("faq", "faqs", "questions", "q&a"),
        _s(
            "faq",
            "FAQ",
            "Frequently asked questions",
            "Short answers to the questions we hear most.",
            "faq",
            _i("How do I get in touch?", "Use the contact form below; we reply within a day."),
            _i("Do you take group bookings?", "Yes. Tell us the date and group size."),
            _i("Where can I find you?", "Details are in the footer of every page."),
        ),
    ),
    (
        ("team", "staff", "people behind"),
        _s(
            "team",
            "Team",
            "The team",
            "The people behind {name}.",
            "cards",
            _i("Ana Ribeiro", "Founder. Sets the standard and answers the hard e-mails."),
            _i("Kofi Mensah", "Operations. Keeps everything running on time."),
            _i("Julia Berg", "Customer care. Knows every regular by name."),
        ),
    ),
)


def kind_for(requirements_lower: str) -> SiteKind:
    """The best kind for the requirements: lowest priority tier, then the earliest mention.

    "A portfolio for a photographer" is photography (a business beats a broad format);
    "a tea shop that also sells cakes" is a tea shop (mentioned first).
    """
    best: tuple[int, int, int] | None = None
    chosen = FALLBACK_KIND
    for order, kind in enumerate(KINDS):
        if any(has_phrase(requirements_lower, phrase) for phrase in kind.excludes):
            continue
        position = first_position(requirements_lower, kind.keywords)
        if position is None:
            continue
        rank = (kind.priority, position, order)
        if best is None or rank < best:
            best, chosen = rank, kind
    return chosen
