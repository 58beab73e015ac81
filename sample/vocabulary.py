"""Reference data of the sample: tags and event names, Polish and German first names,
surnames, cities (weighted; with NFD spellings), e-mail domains and mobile prefixes,
transliteration tables, the shop's product categories, referrers and devices.
"""

from __future__ import annotations

TAGS = ["b2b", "b2c", "vip", "newsletter", "promo", "loyalty"]
SYSTEM_EVENTS = ["MailOpen", "MailClick", "SmsClick", "PushClick"]
CUSTOM_EVENTS = ["Purchase", "Login", "CartAbandoned"]

PL_MALE = [
    "Łukasz", "Paweł", "Michał", "Krzysztof", "Tomasz", "Piotr", "Jan", "Andrzej",
    "Marcin", "Jakub", "Mateusz", "Grzegorz", "Wojciech", "Zbigniew", "Stanisław",
    "Józef", "Kamil", "Bartłomiej", "Maciej", "Rafał", "Przemysław", "Jędrzej",
    "Szymon", "Adam", "Mikołaj", "Radosław", "Sławomir", "Zdzisław",
]  # fmt: skip
PL_FEMALE = [
    "Żaneta", "Małgorzata", "Agnieszka", "Katarzyna", "Anna", "Magdalena", "Joanna",
    "Ewa", "Beata", "Dorota", "Jolanta", "Grażyna", "Halina", "Urszula", "Zofia",
    "Łucja", "Marta", "Natalia", "Aleksandra", "Paulina", "Weronika", "Bożena",
    "Jadwiga", "Krystyna", "Elżbieta", "Wiesława", "Józefa", "Iwona",
]  # fmt: skip
# (masculine, feminine) surname forms.
PL_SURNAMES = [
    ("Kowalski", "Kowalska"), ("Nowak", "Nowak"), ("Wiśniewski", "Wiśniewska"),
    ("Wójcik", "Wójcik"), ("Kowalczyk", "Kowalczyk"), ("Kamiński", "Kamińska"),
    ("Lewandowski", "Lewandowska"), ("Zieliński", "Zielińska"),
    ("Szymański", "Szymańska"), ("Woźniak", "Woźniak"), ("Dąbrowski", "Dąbrowska"),
    ("Kozłowski", "Kozłowska"), ("Jankowski", "Jankowska"), ("Mazur", "Mazur"),
    ("Kwiatkowski", "Kwiatkowska"), ("Krawczyk", "Krawczyk"),
    ("Piotrowski", "Piotrowska"), ("Grabowski", "Grabowska"),
    ("Pawłowski", "Pawłowska"), ("Michalski", "Michalska"), ("Król", "Król"),
    ("Wieczorek", "Wieczorek"), ("Jabłoński", "Jabłońska"), ("Wróbel", "Wróbel"),
    ("Stępień", "Stępień"), ("Górski", "Górska"), ("Sikora", "Sikora"),
    ("Bąk", "Bąk"), ("Włodarczyk", "Włodarczyk"), ("Sokołowski", "Sokołowska"),
    ("Kaźmierczak", "Kaźmierczak"), ("Cieślak", "Cieślak"), ("Głowacki", "Głowacka"),
    ("Kołodziej", "Kołodziej"), ("Ziółkowski", "Ziółkowska"), ("Żak", "Żak"),
    ("Żukowski", "Żukowska"), ("Łukasiewicz", "Łukasiewicz"),
    ("Śliwiński", "Śliwińska"), ("Świątek", "Świątek"), ("Ślusarczyk", "Ślusarczyk"),
    ("Źrebiec", "Źrebiec"), ("Gołębiowski", "Gołębiowska"), ("Duda", "Duda"),
]  # fmt: skip
DE_MALE = [
    "Jürgen", "Günter", "Jörg", "Lukas", "Maximilian", "Stefan", "Thomas",
    "Andreas", "Matthias", "Klaus", "Uwe", "Sören", "Björn", "Florian",
]  # fmt: skip
DE_FEMALE = [
    "Käthe", "Bärbel", "Jördis", "Ingrid", "Sabine", "Ulrike", "Lotte", "Anna",
    "Lena", "Sophie", "Hannelore", "Gisela", "Brigitte", "Jana",
]  # fmt: skip
DE_SURNAMES = [
    "Müller", "Schmidt", "Schneider", "Fischer", "Weber", "Meyer", "Wagner",
    "Becker", "Schäfer", "Koch", "Bauer", "Richter", "Klein", "Schröder",
    "Neumann", "Krüger", "Köhler", "König", "Möller", "Weiß", "Groß", "Gödel",
    "Straßmann", "Strauß", "Großmann", "Jäger", "Böhm", "Krämer", "Fuß", "Voß",
]  # fmt: skip

# (city, weight): Warszawa ends up near 20% of all contacts.
PL_CITIES = [
    ("Warszawa", 23), ("Kraków", 9), ("Wrocław", 8), ("Łódź", 6), ("Poznań", 6),
    ("Gdańsk", 5), ("Szczecin", 3), ("Bydgoszcz", 3), ("Lublin", 3), ("Katowice", 3),
    ("Białystok", 2), ("Gdynia", 2), ("Częstochowa", 1.5), ("Toruń", 1.5),
    ("Rzeszów", 1.5), ("Radom", 1), ("Kielce", 1), ("Olsztyn", 1), ("Zielona Góra", 1),
    ("Bielsko-Biała", 1), ("Warka", 1), ("Świnoujście", 0.5), ("Żyrardów", 0.5),
    ("Sopot", 0.5),
]  # fmt: skip
DE_CITIES = [
    ("Berlin", 30), ("München", 15), ("Hamburg", 12), ("Köln", 10),
    ("Frankfurt am Main", 8), ("Düsseldorf", 6), ("Görlitz", 4), ("Dresden", 6),
    ("Leipzig", 5), ("Nürnberg", 4),
]  # fmt: skip
# Decomposed (NFD) spellings, as typed on some keyboards: ó = o + U+0301.
NFD_CITIES = {
    "Kraków": "Krako\u0301w",
    "Łódź": "Ło\u0301dz\u0301",
    "Poznań": "Poznan\u0301",
    "München": "Mu\u0308nchen",
    "Köln": "Ko\u0308ln",
}

PL_DOMAINS = [
    ("gmail.com", 30), ("wp.pl", 15), ("o2.pl", 10), ("onet.pl", 10), ("interia.pl", 8),
    ("op.pl", 4), ("outlook.com", 5), ("icloud.com", 3), ("yahoo.com", 2),
    ("poczta.fm", 2), ("abc-logistyka.pl", 1), ("techsoft.com.pl", 1), ("polmex.pl", 1),
]  # fmt: skip
DE_DOMAINS = [
    ("gmx.de", 25), ("web.de", 20), ("gmail.com", 25), ("t-online.de", 15),
    ("outlook.de", 10), ("posteo.de", 5),
]  # fmt: skip
PL_MOBILE_PREFIXES = ["50", "51", "53", "57", "60", "66", "69", "72", "73", "78", "79", "88"]
TRANSLIT = str.maketrans(
    {
        "ą": "a", "ć": "c", "ę": "e", "ł": "l", "ń": "n", "ó": "o", "ś": "s", "ź": "z",
        "ż": "z", "ä": "ae", "ö": "oe", "ü": "ue", "ß": "ss", " ": "", "-": "",
    }
)  # fmt: skip
ASCII_FOLD = str.maketrans(
    "ąćęłńóśźżĄĆĘŁŃÓŚŹŻ", "acelnoszzACELNOSZZ"
)  # a name typed without Polish letters

# (slug, display name, product base names, price range in PLN)
CATEGORIES: list[tuple[str, str, list[str], tuple[int, int]]] = [
    ("elektronika", "Elektronika",
     ["Słuchawki bezprzewodowe", "Głośnik Bluetooth", "Smartwatch", "Ładowarka USB-C",
      "Powerbank", "Czytnik e-booków"], (49, 1499)),
    ("dom-i-ogrod", "Dom i ogród",
     ["Czajnik elektryczny", "Kubek termiczny", "Zestaw garnków", "Lampka nocna",
      "Konewka", "Pościel bawełniana"], (19, 599)),
    ("moda", "Moda",
     ["Kurtka zimowa", "Szalik wełniany", "Buty sportowe", "Torebka skórzana",
      "Bluza z kapturem", "Rękawiczki"], (29, 899)),
    ("sport", "Sport",
     ["Mata do jogi", "Hantle 2x5 kg", "Rower górski", "Kask rowerowy",
      "Bidon", "Plecak trekkingowy"], (15, 3499)),
    ("ksiazki", "Książki",
     ["Powieść kryminalna", "Przewodnik po Krakowie", "Książka kucharska",
      "Atlas grzybów", "Poradnik ogrodnika", "Kalendarz ścienny"], (19, 129)),
    ("zdrowie-i-uroda", "Zdrowie i uroda",
     ["Krem nawilżający", "Szczoteczka soniczna", "Suszarka do włosów",
      "Zestaw witamin", "Perfumy", "Olejek do brody"], (15, 499)),
    ("zabawki", "Zabawki",
     ["Klocki konstrukcyjne", "Pluszowy miś", "Gra planszowa", "Puzzle 1000 el.",
      "Zdalnie sterowane auto", "Lalka"], (19, 399)),
]  # fmt: skip
SHOP = "https://shop.example"
SHOP_NAME = "Sklep Example"
REFERRERS = [
    ("https://www.google.com/", 30), ("https://www.google.pl/", 20),
    ("https://www.facebook.com/", 12), ("https://l.instagram.com/", 6),
    ("https://www.ceneo.pl/", 6), ("android-app://com.google.android.gm/", 4),
    ("https://duckduckgo.com/", 2), ("https://www.bing.com/", 2), (SHOP + "/", 18),
]  # fmt: skip
DEVICES = ["web", "ios", "android"]
EUR_PLN = 4.3
