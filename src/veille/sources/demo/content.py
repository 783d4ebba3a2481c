"""Everything the demo generator says, per language (fr, de, it, en).

All of it is invented for a fictional Swiss operator, Alpina Telecom, and two fictional
competitors; no line comes from a data set. Templates are ``str.format`` strings whose slots are
filled by the generator (see ``SLOTS`` in generator.py): {brand} {city} {country} {amount}
{device} {plan} {competitor} {days} {hours} {speed} {month} {url} {name} {agent} {ticket}.
"""

from __future__ import annotations

BRAND_NAME = "Alpina Telecom"
CARE_HANDLE = "AlpinaCare"
MAIN_HANDLE = "AlpinaTelecom"
COMPETITORS = (
    ("Lacustra Mobile", "LacustraMobile"),
    ("Nordwand Net", "NordwandNet"),
)
OUTAGE_TAG = "#AlpinaDown"

PLANS = ("Alpina Flex", "Alpina Swiss Max", "Alpina Home 1 Gbit/s", "Alpina Prepaid",
         "Alpina Travel Pass", "Alpina Young", "Alpina Duo")
DEVICES = ("iPhone 15", "iPhone 13 mini", "Galaxy S23", "Pixel 8", "Fairphone 5", "Xiaomi 13",
           "AlpinaBox 3", "AlpinaBox 2", "iPad", "Apple Watch")
HELP_URLS = (
    "https://alpina-telecom.example/help/roaming",
    "https://alpina-telecom.example/help/esim",
    "https://alpina-telecom.example/help/invoice",
    "https://alpina-telecom.example/status",
    "https://alpina-telecom.example/fibre",
)
# URLs customers paste: screenshots, speed tests, news.
CUSTOMER_URLS = (
    "https://pic.social.example/{code}",
    "https://speed.example/r/{digits}",
    "https://news.example/ch/{digits}",
    "https://pic.social.example/{code}",
)

CITIES = {
    "fr": ("Lausanne", "Genève", "Fribourg", "Neuchâtel", "Sion", "Yverdon", "Montreux",
           "Delémont", "La Chaux-de-Fonds", "Nyon", "Vevey", "Martigny", "Bulle", "Morges"),
    "de": ("Zürich", "Bern", "Basel", "Luzern", "St. Gallen", "Winterthur", "Biel", "Thun",
           "Chur", "Zug", "Aarau", "Schaffhausen", "Olten", "Baden", "Uster", "Frauenfeld"),
    "it": ("Lugano", "Bellinzona", "Locarno", "Mendrisio", "Chiasso", "Ascona", "Biasca",
           "Airolo", "Poschiavo"),
    "en": ("Zurich", "Geneva", "Basel", "Lausanne", "Zug", "Bern", "Lugano", "Lucerne"),
}

COUNTRIES = {
    "fr": ("en France", "en Italie", "en Espagne", "au Portugal", "en Grèce", "au Maroc",
           "aux États-Unis", "au Japon", "en Croatie", "en Thaïlande"),
    "de": ("in Italien", "in Österreich", "in Spanien", "in Kroatien", "in der Türkei",
           "in Griechenland", "in den USA", "in Thailand", "in Portugal", "auf Mallorca"),
    "it": ("in Italia", "in Francia", "in Spagna", "in Grecia", "in Croazia", "negli USA",
           "in Germania", "in Portogallo"),
    "en": ("in France", "in Italy", "in Spain", "in the US", "in the UK", "in Japan",
           "in Portugal", "in Thailand", "in Greece"),
}

MONTHS = {
    "fr": ("janvier", "février", "mars", "avril", "mai", "juin", "juillet", "août",
           "septembre", "octobre", "novembre", "décembre"),
    "de": ("Januar", "Februar", "März", "April", "Mai", "Juni", "Juli", "August",
           "September", "Oktober", "November", "Dezember"),
    "it": ("gennaio", "febbraio", "marzo", "aprile", "maggio", "giugno", "luglio", "agosto",
           "settembre", "ottobre", "novembre", "dicembre"),
    "en": ("January", "February", "March", "April", "May", "June", "July", "August",
           "September", "October", "November", "December"),
}

FIRST_NAMES = {
    "fr": ("Camille", "Léa", "Chloé", "Manon", "Julie", "Sophie", "Élodie", "Margaux", "Inès",
           "Aurélie", "Noémie", "Céline", "Luc", "Julien", "Mathieu", "Nicolas", "Thomas",
           "Maxime", "Loïc", "Jérôme", "Sébastien", "Yann", "Antoine", "Gaël", "Rémi", "Hugo",
           "Théo", "François", "Valérie", "Nathalie"),
    "de": ("Lea", "Anna", "Laura", "Sarah", "Nina", "Lena", "Mia", "Jana", "Sandra", "Ursula",
           "Barbara", "Andrea", "Jonas", "Noah", "Luca", "Simon", "Lukas", "Reto", "Urs",
           "Beat", "Daniel", "Marco", "Stefan", "Matthias", "Fabian", "Patrick", "Roger",
           "Jürg", "Käthi", "Dominik"),
    "it": ("Giulia", "Chiara", "Sara", "Francesca", "Elena", "Martina", "Alessia", "Valentina",
           "Federica", "Marco", "Luca", "Matteo", "Andrea", "Davide", "Simone", "Lorenzo",
           "Giorgio", "Paolo", "Fabio", "Niccolò"),
    "en": ("Emma", "Olivia", "Grace", "Hannah", "Chloe", "Amy", "Rachel", "James", "Ben",
           "Oliver", "Jack", "Ryan", "Daniel", "Sam", "Tom", "Priya", "Arjun", "Mei", "Kenji",
           "Sofia"),
}

LAST_NAMES = {
    "fr": ("Rochat", "Favre", "Pittet", "Bonvin", "Monnier", "Girard", "Berset", "Dubois",
           "Perrin", "Chappuis", "Mottier", "Fournier", "Jaquet", "Cuénod", "Morand", "Roulin",
           "Vuilleumier", "Dufour", "Rey", "Crausaz"),
    "de": ("Müller", "Meier", "Schmid", "Keller", "Weber", "Huber", "Schneider", "Steiner",
           "Brunner", "Baumann", "Frei", "Zimmermann", "Gerber", "Moser", "Widmer", "Wyss",
           "Graf", "Bühler", "Fischer", "Suter", "Lüthi", "Käser"),
    "it": ("Rossi", "Bernasconi", "Galli", "Fontana", "Colombo", "Ferrari", "Pedrazzini",
           "Bianchi", "Lurati", "Martinoli", "Cattaneo", "Ghirlanda", "Soldati", "Rusconi"),
    "en": ("Smith", "Johnson", "Brown", "Taylor", "Wilson", "Clarke", "Evans", "Walker",
           "Patel", "Nguyen", "Kim", "Tanaka", "O'Brien", "Murphy"),
}

# Handle words people use instead of their name.
NICKNAMES = {
    "fr": ("la_vaudoise", "lemanique", "velo_lausanne", "geneve_by_night", "raclette_fan",
           "montagnard", "petit_chat_gris", "le_jurassien", "cafe_croissant", "randonneuse"),
    "de": ("alpenfuchs", "bergziege", "zueri_kind", "baernerbaer", "velofahrer", "chaesbrot",
           "rheinschwimmer", "gipfelstuermer", "fondue_fan", "huerlimann"),
    "it": ("ticinese_doc", "luganese", "gatto_nero", "pizzoccheri", "montagna_viva",
           "lago_maggiore", "buongustaio"),
    "en": ("expat_in_zurich", "swiss_nomad", "techdad", "coffee_and_code", "alpine_runner",
           "cheese_lover", "travelbug"),
}

# A few accounts with large audiences: journalists, bloggers, local news.
NOTABLE_ACCOUNTS = (
    ("de", "techblog_ch", "Techblog Schweiz", 48_200),
    ("fr", "romandie_numerique", "Romandie Numérique", 31_900),
    ("it", "ticino_news_live", "Ticino News Live", 22_400),
    ("en", "swiss_tech_weekly", "Swiss Tech Weekly", 64_800),
    ("de", "reto_handytest", "Reto testet Handys 📱", 112_000),
    ("fr", "journaliste_conso", "Marie, journaliste conso", 15_600),
)

EMOJI = {
    "angry": ("😡", "🤬", "😤", "🙄", "😩", "👎", "😠", "🤦‍♀️", "🤦"),
    "happy": ("😍", "🙏", "👍", "🎉", "😊", "💪", "🥳", "❤️", "👏"),
    "neutral": ("🤔", "📱", "📶", "👀", "🙂"),
    "outage": ("📵", "❌", "🔥", "😡", "🤬", "📴"),
}

HASHTAGS = {
    "fr": {"roaming": ("#roaming", "#vacances"), "invoice": ("#facture",), "5g": ("#5G",),
           "fibre": ("#fibre", "#internet"), "esim": ("#eSIM",), "outage": ("#panne",),
           "general": ("#Suisse", "#Romandie", "#télécom")},
    "de": {"roaming": ("#Roaming", "#Ferien"), "invoice": ("#Rechnung",), "5g": ("#5G",),
           "fibre": ("#Glasfaser", "#Internet"), "esim": ("#eSIM",), "outage": ("#Störung",),
           "general": ("#Schweiz", "#Telekom", "#Zürich")},
    "it": {"roaming": ("#roaming", "#vacanze"), "invoice": ("#fattura",), "5g": ("#5G",),
           "fibre": ("#fibra",), "esim": ("#eSIM",), "outage": ("#guasto",),
           "general": ("#Ticino", "#Svizzera")},
    "en": {"roaming": ("#roaming", "#travel"), "invoice": ("#billing",), "5g": ("#5G",),
           "fibre": ("#fibre", "#broadband"), "esim": ("#eSIM",), "outage": ("#outage",),
           "general": ("#Switzerland", "#telecom")},
}

OPENERS = {
    "fr": ("", "", "", "Bonjour,", "Salut", "Bonsoir,", "Hello", "Coucou", "Bon,", "Sérieux"),
    "de": ("", "", "", "Hallo", "Grüezi", "Hoi", "Guten Tag,", "Sali", "Liebes Team,", "Ernsthaft,"),
    "it": ("", "", "", "Buongiorno,", "Ciao", "Salve,", "Buonasera,", "Scusate,"),
    "en": ("", "", "", "Hi", "Hey", "Hello,", "Morning", "Seriously,"),
}

CLOSERS = {
    "question": {
        "fr": ("", "", "Merci d'avance !", "Merci 🙏", "Une idée ?", "Quelqu'un sait ?", "Merci de votre aide."),
        "de": ("", "", "Danke im Voraus!", "Merci 🙏", "Weiss das jemand?", "Danke für die Hilfe.", "Gruss"),
        "it": ("", "", "Grazie in anticipo!", "Grazie 🙏", "Qualcuno sa?", "Grazie mille."),
        "en": ("", "", "Thanks in advance!", "Thanks 🙏", "Anyone know?", "Cheers."),
    },
    "complaint": {
        "fr": ("", "", "Inadmissible.", "Ras-le-bol.", "C'est quoi ce service ?!", "Je vais résilier.",
               "Merci de régler ça rapidement.", "Franchement nul."),
        "de": ("", "", "Unglaublich.", "Langsam reicht's.", "Was ist los bei euch?!", "Ich kündige bald.",
               "Bitte dringend lösen.", "Echt mühsam."),
        "it": ("", "", "Inaccettabile.", "Basta!", "Ma che servizio è?!", "Sto pensando di disdire.",
               "Risolvete per favore."),
        "en": ("", "", "Unacceptable.", "Fed up.", "What is going on?!", "Thinking of switching.",
               "Please sort this out.", "Ridiculous."),
    },
    "praise": {
        "fr": ("", "", "Bravo !", "Top 👍", "Merci encore !", "Rien à dire."),
        "de": ("", "", "Bravo!", "Top 👍", "Merci vielmal!", "Weiter so!"),
        "it": ("", "", "Bravi!", "Top 👍", "Grazie ancora!", "Complimenti!"),
        "en": ("", "", "Well done!", "Top 👍", "Thanks again!", "Keep it up!"),
    },
}

# Customer posts by category and topic. {m} is replaced by a mention (@AlpinaCare, @AlpinaTelecom,
# or the brand name written out), so the same body reads as a mention or as a comment.
QUESTIONS = {
    "fr": {
        "roaming": (
            "{m} je pars {country} la semaine prochaine, le {plan} couvre le roaming ?",
            "{m} combien coûte 1 Go de données {country} ? Je ne trouve pas sur le site",
            "{m} le Travel Pass s'active automatiquement ou je dois faire quelque chose ?",
            "{m} je suis {country} et je n'ai pas de réseau depuis que j'ai atterri, normal ?",
            "{m} est-ce que les appels vers la Suisse sont inclus quand on est {country} ?",
            "{m} j'ai reçu un SMS sur les frais de roaming {country}, c'est facturé combien exactement ?",
        ),
        "invoice": (
            "{m} pourquoi ma facture de {month} est à {amount} CHF alors que j'ai le {plan} ?",
            "{m} où je peux télécharger mes factures en PDF ? L'app ne les montre plus",
            "{m} c'est possible de payer la facture par eBill ?",
            "{m} j'ai payé deux fois la facture de {month}, comment je récupère l'argent ?",
            "{m} c'est quoi la ligne 'services tiers' de {amount} CHF sur ma facture ?",
        ),
        "5g": (
            "{m} la 5G arrive quand à {city} ? Mon {device} reste en 4G",
            "{m} il faut changer de SIM pour avoir la 5G avec le {plan} ?",
            "{m} la 5G+ est incluse dans mon abo ou c'est en option ?",
            "{m} mon {device} affiche 5G mais le débit est de {speed} Mbit/s, c'est normal ?",
        ),
        "fibre": (
            "{m} quand est-ce que la fibre sera disponible à {city} ? Le site dit 'bientôt' depuis un an",
            "{m} le technicien pour la fibre vient quand ? Commande passée il y a {days} jours",
            "{m} est-ce que l'{device} supporte le 10 Gbit/s ?",
            "{m} je déménage à {city} le mois prochain, comment transférer mon abo fibre ?",
            "{m} la prise optique est posée mais toujours pas de connexion, on fait quoi ?",
        ),
        "esim": (
            "{m} comment je passe à l'eSIM sur mon {device} ?",
            "{m} le QR code eSIM ne marche pas, il dit 'code déjà utilisé'",
            "{m} c'est possible d'avoir une eSIM pour ma montre avec le {plan} ?",
            "{m} j'ai changé de téléphone, mon eSIM peut être transférée ?",
        ),
    },
    "de": {
        "roaming": (
            "{m} ich fliege nächste Woche {country}, ist Roaming im {plan} dabei?",
            "{m} was kostet 1 GB Daten {country}? Finde es nirgends auf der Website",
            "{m} muss ich den Travel Pass selber aktivieren oder geht das automatisch?",
            "{m} bin {country} gelandet und habe kein Netz, ist das normal?",
            "{m} sind Anrufe in die Schweiz inbegriffen wenn ich {country} bin?",
            "{m} habe eine SMS wegen Roaming-Kosten {country} bekommen, was kostet das genau?",
        ),
        "invoice": (
            "{m} warum ist meine Rechnung im {month} {amount} CHF, ich habe doch das {plan}?",
            "{m} wo kann ich meine Rechnungen als PDF herunterladen? In der App sind sie weg",
            "{m} kann ich die Rechnung per eBill bezahlen?",
            "{m} habe die Rechnung vom {month} doppelt bezahlt, wie bekomme ich das Geld zurück?",
            "{m} was ist der Posten 'Drittanbieter' über {amount} CHF auf meiner Rechnung?",
        ),
        "5g": (
            "{m} wann kommt 5G nach {city}? Mein {device} bleibt auf 4G",
            "{m} brauche ich eine neue SIM für 5G mit dem {plan}?",
            "{m} ist 5G+ im Abo inbegriffen oder kostet das extra?",
            "{m} mein {device} zeigt 5G an, aber nur {speed} Mbit/s. Ist das normal?",
        ),
        "fibre": (
            "{m} wann gibt es Glasfaser in {city}? Auf der Website steht seit einem Jahr 'bald'",
            "{m} wann kommt der Techniker für den Glasfaseranschluss? Bestellt vor {days} Tagen",
            "{m} unterstützt die {device} 10 Gbit/s?",
            "{m} ich ziehe nächsten Monat nach {city}, wie nehme ich mein Internet-Abo mit?",
            "{m} die Glasfaserdose ist montiert, aber immer noch kein Internet. Was nun?",
        ),
        "esim": (
            "{m} wie wechsle ich auf eSIM mit meinem {device}?",
            "{m} der eSIM QR-Code funktioniert nicht, 'Code bereits verwendet'",
            "{m} kann ich mit dem {plan} eine eSIM für die Uhr haben?",
            "{m} neues Handy, kann ich meine eSIM übertragen?",
        ),
    },
    "it": {
        "roaming": (
            "{m} parto {country} la settimana prossima, il {plan} include il roaming?",
            "{m} quanto costa 1 GB di dati {country}? Sul sito non lo trovo",
            "{m} il Travel Pass si attiva da solo o devo fare qualcosa?",
            "{m} sono {country} e non ho rete da quando sono atterrata, è normale?",
            "{m} le chiamate verso la Svizzera sono incluse quando sono {country}?",
        ),
        "invoice": (
            "{m} perché la fattura di {month} è di {amount} CHF se ho il {plan}?",
            "{m} dove scarico le fatture in PDF? Nell'app non ci sono più",
            "{m} posso pagare la fattura con eBill?",
            "{m} ho pagato due volte la fattura di {month}, come riavere i soldi?",
        ),
        "5g": (
            "{m} quando arriva il 5G a {city}? Il mio {device} resta in 4G",
            "{m} serve una nuova SIM per il 5G con il {plan}?",
            "{m} il mio {device} mostra 5G ma solo {speed} Mbit/s, è normale?",
        ),
        "fibre": (
            "{m} quando arriva la fibra a {city}? Sul sito c'è scritto 'presto' da un anno",
            "{m} quando viene il tecnico per la fibra? Ordinata {days} giorni fa",
            "{m} mi trasferisco a {city} il mese prossimo, come sposto l'abbonamento internet?",
            "{m} la presa ottica è installata ma ancora niente connessione, che faccio?",
        ),
        "esim": (
            "{m} come passo all'eSIM sul mio {device}?",
            "{m} il QR code dell'eSIM non funziona, dice 'codice già usato'",
            "{m} nuovo telefono, posso trasferire la mia eSIM?",
        ),
    },
    "en": {
        "roaming": (
            "{m} travelling {country} next week, does the {plan} include roaming?",
            "{m} how much is 1 GB of data {country}? Can't find it on the website",
            "{m} does the Travel Pass activate automatically or do I need to do something?",
            "{m} just landed {country} and have no signal at all, is that normal?",
            "{m} are calls back to Switzerland included when I'm {country}?",
        ),
        "invoice": (
            "{m} why is my {month} bill {amount} CHF when I'm on the {plan}?",
            "{m} where can I download my bills as PDF? They vanished from the app",
            "{m} can I pay my bill with eBill?",
            "{m} I paid the {month} invoice twice, how do I get a refund?",
            "{m} what is the 'third-party services' line of {amount} CHF on my bill?",
        ),
        "5g": (
            "{m} when is 5G coming to {city}? My {device} stays on 4G",
            "{m} do I need a new SIM for 5G on the {plan}?",
            "{m} my {device} shows 5G but I only get {speed} Mbit/s, is that normal?",
        ),
        "fibre": (
            "{m} when will fibre be available in {city}? The site has said 'soon' for a year",
            "{m} when is the technician coming for the fibre install? Ordered {days} days ago",
            "{m} moving to {city} next month, how do I move my broadband contract?",
            "{m} the fibre socket is installed but still no connection, what now?",
        ),
        "esim": (
            "{m} how do I switch to eSIM on my {device}?",
            "{m} the eSIM QR code doesn't work, it says 'code already used'",
            "{m} new phone, can my eSIM be transferred?",
        ),
    },
}

COMPLAINTS = {
    "fr": {
        "outage": (
            "{m} encore une panne internet à {city} depuis {hours}h ce matin",
            "{m} plus de réseau mobile à {city}, ça fait {hours} heures",
            "{m} la box redémarre toute seule toutes les 10 minutes depuis hier",
            "{m} pas d'internet depuis {days} jours et personne ne répond",
        ),
        "billing": (
            "{m} {amount} CHF facturés en trop ce mois, c'est la deuxième fois",
            "{m} on m'a facturé le roaming alors que j'avais le Travel Pass",
            "{m} j'ai résilié il y a {days} jours et vous me facturez encore",
            "{m} frais de rappel de {amount} CHF pour une facture que je n'ai jamais reçue",
        ),
        "support": (
            "{m} {hours} heures d'attente à la hotline, sérieusement ?",
            "{m} ça fait {days} jours que j'attends une réponse à mon ticket {ticket}",
            "{m} le chat me renvoie vers la hotline qui me renvoie vers le chat…",
            "{m} trois conseillers, trois réponses différentes. Qui croire ?",
        ),
        "coverage": (
            "{m} zéro réseau dans le train entre {city} et Lausanne, comme d'habitude",
            "{m} {speed} Mbit/s en plein centre de {city}, on est en quelle année ?",
            "{m} impossible de téléphoner chez moi à {city}, une barre de réseau max",
        ),
    },
    "de": {
        "outage": (
            "{m} schon wieder kein Internet in {city} seit {hours} Uhr heute Morgen",
            "{m} kein Mobilnetz in {city}, seit {hours} Stunden",
            "{m} die Box startet seit gestern alle 10 Minuten neu",
            "{m} seit {days} Tagen kein Internet und niemand meldet sich",
        ),
        "billing": (
            "{m} diesen Monat {amount} CHF zu viel verrechnet, schon das zweite Mal",
            "{m} ihr habt mir Roaming verrechnet obwohl ich den Travel Pass hatte",
            "{m} vor {days} Tagen gekündigt und ihr verrechnet immer noch",
            "{m} Mahngebühr von {amount} CHF für eine Rechnung, die ich nie bekommen habe",
        ),
        "support": (
            "{m} {hours} Stunden in der Warteschlange der Hotline, im Ernst?",
            "{m} warte seit {days} Tagen auf eine Antwort zu Ticket {ticket}",
            "{m} der Chat schickt mich zur Hotline, die Hotline zum Chat…",
            "{m} drei Mitarbeitende, drei verschiedene Antworten. Wem soll ich glauben?",
        ),
        "coverage": (
            "{m} null Empfang im Zug zwischen {city} und Zürich, wie immer",
            "{m} {speed} Mbit/s mitten in {city}, welches Jahr haben wir?",
            "{m} kann zuhause in {city} nicht telefonieren, max. ein Balken",
        ),
    },
    "it": {
        "outage": (
            "{m} di nuovo niente internet a {city} dalle {hours} di stamattina",
            "{m} nessuna rete mobile a {city} da {hours} ore",
            "{m} il modem si riavvia da solo ogni 10 minuti da ieri",
            "{m} senza internet da {days} giorni e nessuno risponde",
        ),
        "billing": (
            "{m} {amount} CHF fatturati in più questo mese, è la seconda volta",
            "{m} mi avete addebitato il roaming anche se avevo il Travel Pass",
            "{m} ho disdetto {days} giorni fa e continuate a fatturare",
        ),
        "support": (
            "{m} {hours} ore di attesa alla hotline, sul serio?",
            "{m} aspetto da {days} giorni una risposta al ticket {ticket}",
            "{m} la chat mi manda alla hotline e la hotline alla chat…",
        ),
        "coverage": (
            "{m} zero campo in treno tra {city} e Bellinzona, come sempre",
            "{m} {speed} Mbit/s in centro a {city}, ma dai",
        ),
    },
    "en": {
        "outage": (
            "{m} internet down again in {city} since {hours}am",
            "{m} no mobile signal in {city} for {hours} hours now",
            "{m} the router keeps rebooting every 10 minutes since yesterday",
            "{m} no internet for {days} days and nobody gets back to me",
        ),
        "billing": (
            "{m} overcharged {amount} CHF this month, second time in a row",
            "{m} you charged me roaming even though I had the Travel Pass",
            "{m} cancelled {days} days ago and you're still billing me",
        ),
        "support": (
            "{m} {hours} hours on hold with the hotline, seriously?",
            "{m} waiting {days} days for an answer on ticket {ticket}",
            "{m} chat sends me to the hotline, hotline sends me to chat…",
        ),
        "coverage": (
            "{m} no signal on the train between {city} and Zurich, as usual",
            "{m} {speed} Mbit/s in the middle of {city}, what year is it?",
        ),
    },
}

# Complaints during the outage episode: each names the outage in its language.
OUTAGE = {
    "fr": (
        "{m} panne générale ? Plus rien ne marche à {city} ni internet ni mobile",
        "{m} grosse panne à {city}, aucun réseau depuis {minutes} minutes",
        "{m} c'est une panne chez vous ? Box éteinte, téléphone sans réseau",
        "{m} panne de réseau à {city}, je ne peux pas appeler le médecin !",
        "Encore une panne {brand}… je télétravaille comment moi ?",
        "{m} panne totale, même le 0800 ne répond plus",
        "Panne {brand} à {city} ? Quelqu'un d'autre ?",
        "{m} toujours en panne à {city}. Une estimation ?",
    ),
    "de": (
        "{m} Störung? In {city} geht gar nichts mehr, weder Internet noch Handy",
        "{m} grosse Störung in {city}, seit {minutes} Minuten kein Netz",
        "{m} habt ihr eine Störung? Box tot, Handy ohne Netz",
        "{m} Netzstörung in {city}, kann den Arzt nicht anrufen!",
        "Schon wieder eine Störung bei {brand}… wie soll ich so im Homeoffice arbeiten?",
        "{m} Totalausfall, sogar die Hotline ist nicht erreichbar",
        "Störung bei {brand} in {city}? Noch jemand?",
        "{m} immer noch Störung in {city}. Wie lange noch?",
    ),
    "it": (
        "{m} c'è un guasto? A {city} non funziona niente, né internet né cellulare",
        "{m} grosso guasto a {city}, niente rete da {minutes} minuti",
        "{m} guasto alla rete a {city}, non riesco a chiamare il medico!",
        "Ancora un guasto {brand}… come lavoro da casa?",
        "Guasto {brand} a {city}? Anche voi?",
        "{m} ancora guasto a {city}. Tempi di ripristino?",
    ),
    "en": (
        "{m} is there an outage? Nothing works in {city}, no internet, no mobile",
        "{m} major outage in {city}, no network for {minutes} minutes",
        "{m} outage? Router dead, phone has no signal",
        "Another {brand} outage… how am I supposed to work from home?",
        "{brand} outage in {city}? Anyone else?",
        "{m} still an outage in {city}. Any ETA?",
    ),
}

PRAISE = {
    "fr": (
        "{m} merci pour l'aide rapide hier, tout fonctionne !",
        "Installation de la fibre {brand} à {city} : technicien au top, en 1h c'était fait",
        "{m} le roaming {country} a marché du premier coup, bravo",
        "La 5G de {brand} à {city} c'est {speed} Mbit/s 😮",
        "{m} service client impeccable, problème réglé en 5 minutes",
        "Passée chez {brand} le mois dernier, aucun regret",
        "{m} l'eSIM activée en 2 minutes sur mon {device}, génial",
    ),
    "de": (
        "{m} danke für die schnelle Hilfe gestern, alles läuft!",
        "Glasfaser-Installation von {brand} in {city}: Techniker top, in 1h erledigt",
        "{m} Roaming {country} hat auf Anhieb funktioniert, merci",
        "5G von {brand} in {city}: {speed} Mbit/s 😮",
        "{m} super Kundendienst, Problem in 5 Minuten gelöst",
        "Letzten Monat zu {brand} gewechselt, keine Reue",
        "{m} eSIM in 2 Minuten auf dem {device} aktiviert, genial",
    ),
    "it": (
        "{m} grazie per l'aiuto veloce di ieri, ora funziona tutto!",
        "Installazione fibra {brand} a {city}: tecnico bravissimo, fatto in un'ora",
        "{m} il roaming {country} ha funzionato subito, bravi",
        "Il 5G di {brand} a {city} fa {speed} Mbit/s 😮",
        "{m} servizio clienti impeccabile, risolto in 5 minuti",
    ),
    "en": (
        "{m} thanks for the quick help yesterday, all working now!",
        "Fibre install by {brand} in {city}: great technician, done in an hour",
        "{m} roaming {country} worked first time, nice one",
        "{brand} 5G in {city} is doing {speed} Mbit/s 😮",
        "{m} brilliant customer service, sorted in 5 minutes",
        "Switched to {brand} last month, no regrets",
    ),
}

NEUTRAL = {
    "fr": (
        "Vu la pub {brand} dans le métro à {city}, pas mal",
        "{brand} annonce la 5G+ à {city} d'ici {month}",
        "Quelqu'un a testé le {plan} de {brand} ?",
        "Article intéressant sur les antennes 5G de {brand} {url}",
        "{brand} sponsorise le festival de {city} cette année",
        "Je réfléchis à prendre le {plan}, des avis ?",
    ),
    "de": (
        "Die neue {brand}-Werbung im Tram in {city} ist lustig",
        "{brand} kündigt 5G+ in {city} bis {month} an",
        "Hat jemand das {plan} von {brand} getestet?",
        "Spannender Artikel über die 5G-Antennen von {brand} {url}",
        "{brand} sponsert dieses Jahr das Openair in {city}",
        "Überlege mir das {plan}, Erfahrungen?",
    ),
    "it": (
        "Vista la pubblicità {brand} a {city}, carina",
        "{brand} annuncia il 5G+ a {city} entro {month}",
        "Qualcuno ha provato il {plan} di {brand}?",
        "Articolo interessante sulle antenne 5G di {brand} {url}",
    ),
    "en": (
        "Saw the new {brand} ad at {city} station, quite fun",
        "{brand} announces 5G+ in {city} by {month}",
        "Anyone tried the {plan} from {brand}?",
        "Interesting read on {brand}'s 5G rollout {url}",
        "Thinking about the {plan}, any experiences?",
    ),
}

COMPETITOR = {
    "fr": (
        "{competitor} propose la fibre à {amount} CHF, {brand} vous faites quoi ?",
        "J'hésite entre {brand} et {competitor} pour mon abo mobile, des avis ?",
        "Passée de {competitor} à {brand}, le réseau est bien meilleur à {city}",
        "{competitor} ou {brand} pour le roaming {country} ?",
        "{m} {competitor} m'offre 3 mois gratuits, vous pouvez faire mieux ?",
    ),
    "de": (
        "{competitor} bietet Glasfaser für {amount} CHF, {brand} was sagt ihr dazu?",
        "Schwanke zwischen {brand} und {competitor} fürs Handyabo, Meinungen?",
        "Von {competitor} zu {brand} gewechselt, Netz in {city} viel besser",
        "{competitor} oder {brand} fürs Roaming {country}?",
        "{m} {competitor} bietet mir 3 Monate gratis, könnt ihr das toppen?",
    ),
    "it": (
        "{competitor} offre la fibra a {amount} CHF, {brand} che ne dite?",
        "Indeciso tra {brand} e {competitor} per il cellulare, consigli?",
        "Passato da {competitor} a {brand}, la rete a {city} è molto meglio",
    ),
    "en": (
        "{competitor} offers fibre for {amount} CHF, {brand} what have you got?",
        "Torn between {brand} and {competitor} for mobile, thoughts?",
        "Switched from {competitor} to {brand}, signal in {city} is way better",
        "{m} {competitor} is offering me 3 months free, can you beat that?",
    ),
}

# Direct messages: written to the care account, so no mention.
DMS = {
    "fr": (
        "Bonjour, voici mon numéro client {ticket} pour le problème de facture",
        "Re-bonjour, toujours pas de connexion à {city}, numéro client {ticket}",
        "Bonjour, je voudrais changer mon abo pour le {plan}, c'est possible par ici ?",
        "Voici la capture de la facture de {month} : {url}",
    ),
    "de": (
        "Hallo, hier meine Kundennummer {ticket} wegen der Rechnung",
        "Nochmals hallo, immer noch kein Internet in {city}, Kundennummer {ticket}",
        "Hallo, ich möchte auf das {plan} wechseln, geht das hier?",
        "Hier der Screenshot der Rechnung vom {month}: {url}",
    ),
    "it": (
        "Buongiorno, ecco il mio numero cliente {ticket} per la fattura",
        "Ancora nessuna connessione a {city}, numero cliente {ticket}",
        "Vorrei passare al {plan}, si può fare qui?",
    ),
    "en": (
        "Hi, here's my customer number {ticket} about the bill",
        "Still no connection in {city}, customer number {ticket}",
        "Hi, I'd like to switch to the {plan}, can I do that here?",
        "Here's the screenshot of my {month} bill: {url}",
    ),
}

# Care account replies, by what they answer. {name} is the customer's first name or empty.
CARE_REPLIES = {
    "fr": {
        "roaming": (
            "Bonjour{name}, le Travel Pass s'active dans l'app en 2 clics avant le départ. Bon voyage ! {help} {agent}",
            "Hello{name} ! Le roaming {country} est inclus dans le {plan} jusqu'à 5 Go. Bon voyage ! {agent}",
            "Bonjour{name}, vérifiez que l'itinérance des données est activée dans les réglages du téléphone. {agent}",
        ),
        "question": (
            "Bonjour{name}, merci pour votre question ! Vous trouverez tous les détails ici : {help} {agent}",
            "Bonjour{name}, oui c'est possible. Envoyez-nous un message privé avec votre numéro client et on regarde ensemble. {agent}",
            "Hello{name} ! Bonne nouvelle, c'est inclus dans le {plan}. {agent}",
            "Bonjour{name}, je vérifie pour vous et je reviens vers vous au plus vite. {agent}",
        ),
        "complaint": (
            "Bonjour{name}, nous sommes désolés pour ce désagrément. Pouvez-vous nous écrire en privé avec votre numéro client ? {agent}",
            "Bonjour{name}, je comprends votre frustration. Je transmets à l'équipe technique tout de suite. {agent}",
            "Bonsoir{name}, toutes nos excuses. Un remboursement de {amount} CHF a été demandé, vous le verrez sur la prochaine facture. {agent}",
            "Bonjour{name}, merci de votre patience. Pouvez-vous redémarrer la box et nous dire si le voyant reste rouge ? {agent}",
        ),
        "outage": (
            "Bonjour{name}, nous avons une panne en cours dans la région de {city}. Nos équipes sont sur place, suivi ici : {status} {agent}",
            "Bonjour{name}, désolés, la panne est connue et en cours de réparation. Merci de votre patience. {agent}",
        ),
        "praise": (
            "Merci beaucoup{name}, ça fait plaisir ! 😊 {agent}",
            "Merci{name} pour ce retour, on transmet à l'équipe ! {agent}",
        ),
        "followup": (
            "Merci{name} pour votre retour. Le ticket {ticket} est ouvert, un technicien vous appelle demain. {agent}",
            "Parfait, n'hésitez pas si besoin{name} ! {agent}",
            "C'est réglé de notre côté{name}, pouvez-vous confirmer ? {agent}",
        ),
        "dm": (
            "Bonjour{name}, merci, j'ai trouvé votre dossier. Je m'en occupe. {agent}",
            "Merci{name}, c'est noté. La modification sera active dès demain. {agent}",
        ),
        "status_start": (
            "⚠️ Perturbation en cours sur les réseaux fixe et mobile. Nos équipes sont mobilisées, infos : {status} {tag}",
        ),
        "status_end": (
            "✅ La panne est résolue, tous les services fonctionnent à nouveau. Merci pour votre patience et toutes nos excuses. {tag}",
        ),
    },
    "de": {
        "roaming": (
            "Hallo{name}, den Travel Pass kannst du vor der Abreise in der App mit 2 Klicks aktivieren. Gute Reise! {help} {agent}",
            "Hoi{name}! Roaming {country} ist im {plan} bis 5 GB inbegriffen. Gute Reise! {agent}",
            "Grüezi{name}, bitte prüf, ob Datenroaming in den Einstellungen des Handys eingeschaltet ist. {agent}",
        ),
        "question": (
            "Hallo{name}, danke für die Frage! Alle Details findest du hier: {help} {agent}",
            "Grüezi{name}, ja, das geht. Schreib uns eine Direktnachricht mit deiner Kundennummer, dann schauen wir es gemeinsam an. {agent}",
            "Hoi{name}! Gute Nachricht, das ist im {plan} inbegriffen. {agent}",
            "Hallo{name}, ich kläre das ab und melde mich so schnell wie möglich. {agent}",
        ),
        "complaint": (
            "Hallo{name}, das tut uns leid. Kannst du uns per DM deine Kundennummer schicken? {agent}",
            "Grüezi{name}, ich verstehe den Ärger. Ich gebe das sofort ans Technik-Team weiter. {agent}",
            "Hallo{name}, entschuldige bitte. Wir haben eine Gutschrift von {amount} CHF veranlasst, sie erscheint auf der nächsten Rechnung. {agent}",
            "Hallo{name}, danke für die Geduld. Kannst du die Box neu starten und uns sagen, ob das Lämpchen rot bleibt? {agent}",
        ),
        "outage": (
            "Hallo{name}, wir haben aktuell eine Störung in der Region {city}. Unsere Teams sind dran, Infos hier: {status} {agent}",
            "Grüezi{name}, sorry, die Störung ist bekannt und wird behoben. Danke für die Geduld. {agent}",
        ),
        "praise": (
            "Merci vielmal{name}, das freut uns! 😊 {agent}",
            "Danke{name} für das Feedback, wir leiten es ans Team weiter! {agent}",
        ),
        "followup": (
            "Danke{name} für die Rückmeldung. Ticket {ticket} ist eröffnet, ein Techniker ruft morgen an. {agent}",
            "Perfekt, melde dich jederzeit{name}! {agent}",
            "Bei uns ist es erledigt{name}, kannst du das bestätigen? {agent}",
        ),
        "dm": (
            "Hallo{name}, danke, ich habe dein Dossier gefunden und kümmere mich darum. {agent}",
            "Danke{name}, ist notiert. Die Änderung ist ab morgen aktiv. {agent}",
        ),
        "status_start": (
            "⚠️ Aktuell gibt es eine Störung im Fest- und Mobilnetz. Unsere Teams arbeiten mit Hochdruck daran, Infos: {status} {tag}",
        ),
        "status_end": (
            "✅ Die Störung ist behoben, alle Dienste laufen wieder. Danke für eure Geduld und entschuldigt die Umstände. {tag}",
        ),
    },
    "it": {
        "roaming": (
            "Ciao{name}, il Travel Pass si attiva nell'app con 2 clic prima della partenza. Buon viaggio! {help} {agent}",
            "Buongiorno{name}, controlli che il roaming dati sia attivo nelle impostazioni del telefono. {agent}",
        ),
        "question": (
            "Buongiorno{name}, grazie per la domanda! Trova tutti i dettagli qui: {help} {agent}",
            "Ciao{name}, sì è possibile. Scrivici in privato con il numero cliente e vediamo insieme. {agent}",
            "Ciao{name}! Buone notizie, è incluso nel {plan}. {agent}",
        ),
        "complaint": (
            "Buongiorno{name}, ci dispiace per il disagio. Può scriverci in privato con il numero cliente? {agent}",
            "Ciao{name}, capisco la frustrazione. Inoltro subito al team tecnico. {agent}",
            "Buonasera{name}, ci scusiamo. Abbiamo richiesto un accredito di {amount} CHF sulla prossima fattura. {agent}",
        ),
        "outage": (
            "Buongiorno{name}, c'è un guasto in corso nella regione di {city}. I tecnici sono al lavoro, aggiornamenti: {status} {agent}",
            "Ciao{name}, il guasto è noto e in riparazione. Grazie per la pazienza. {agent}",
        ),
        "praise": (
            "Grazie mille{name}, ci fa piacere! 😊 {agent}",
        ),
        "followup": (
            "Grazie{name}. Il ticket {ticket} è aperto, un tecnico la chiamerà domani. {agent}",
            "Perfetto, siamo qui se serve{name}! {agent}",
        ),
        "dm": (
            "Buongiorno{name}, grazie, ho trovato la sua pratica. Me ne occupo io. {agent}",
        ),
        "status_start": (
            "⚠️ Guasto in corso sulla rete fissa e mobile. I nostri tecnici sono al lavoro, info: {status} {tag}",
        ),
        "status_end": (
            "✅ Il guasto è risolto, tutti i servizi funzionano di nuovo. Grazie per la pazienza. {tag}",
        ),
    },
    "en": {
        "roaming": (
            "Hi{name}, you can switch the Travel Pass on in the app in two taps before you leave. Safe travels! {help} {agent}",
            "Hey{name}! Roaming {country} is included in the {plan} up to 5 GB. Safe travels! {agent}",
            "Hi{name}, please check that data roaming is switched on in your phone's settings. {agent}",
        ),
        "question": (
            "Hi{name}, thanks for asking! You'll find all the details here: {help} {agent}",
            "Hi{name}, yes that's possible. Send us a DM with your customer number and we'll look at it together. {agent}",
            "Hey{name}! Good news, that's included in the {plan}. {agent}",
        ),
        "complaint": (
            "Hi{name}, sorry about this. Could you DM us your customer number? {agent}",
            "Hi{name}, I understand the frustration. Passing this to our technical team right away. {agent}",
            "Hi{name}, apologies. We've requested a {amount} CHF credit on your next bill. {agent}",
        ),
        "outage": (
            "Hi{name}, there's an ongoing outage around {city}. Our teams are on it, updates here: {status} {agent}",
            "Hi{name}, sorry, the outage is known and being fixed. Thanks for your patience. {agent}",
        ),
        "praise": (
            "Thanks so much{name}, great to hear! 😊 {agent}",
        ),
        "followup": (
            "Thanks{name}. Ticket {ticket} is open, a technician will call you tomorrow. {agent}",
            "Great, let us know if anything else comes up{name}! {agent}",
        ),
        "dm": (
            "Hi{name}, thanks, I found your account and I'm on it. {agent}",
        ),
        "status_start": (
            "⚠️ We're seeing an outage on fixed and mobile networks. Our teams are working on it, updates: {status} {tag}",
        ),
        "status_end": (
            "✅ The outage is resolved and all services are back. Thanks for your patience, and sorry for the trouble. {tag}",
        ),
    },
}

# What a customer says back to the care account.
FOLLOWUPS = {
    "fr": {
        "unanswered": ("Ça ne répond pas vraiment à ma question…", "Oui mais concrètement ?", "Le lien ne marche pas", "J'ai déjà regardé le site, rien trouvé"),
        "good": ("Merci, ça marche à nouveau 👍", "Super, merci pour la réponse rapide !",
                 "Ok merci, j'ai envoyé un DM", "Parfait, merci beaucoup 🙏", "Ah d'accord, merci !"),
        "bad": ("Toujours rien…", "J'ai déjà redémarré 3 fois, ça ne change rien",
                "Ça fait la troisième fois qu'on me dit ça", "Et le remboursement ?",
                "DM envoyé il y a 2h, pas de réponse"),
    },
    "de": {
        "unanswered": ("Das beantwortet meine Frage nicht wirklich…", "Ja, aber konkret?", "Der Link geht nicht", "Auf der Website habe ich schon geschaut, nichts gefunden"),
        "good": ("Danke, läuft wieder 👍", "Super, danke für die schnelle Antwort!",
                 "Ok danke, DM ist unterwegs", "Perfekt, merci vielmal 🙏", "Ah ok, danke!"),
        "bad": ("Immer noch nichts…", "Habe schon 3x neu gestartet, bringt nichts",
                "Das sagt ihr mir jetzt zum dritten Mal", "Und die Gutschrift?",
                "DM vor 2h geschickt, keine Antwort"),
    },
    "it": {
        "unanswered": ("Non risponde alla mia domanda…", "Sì, ma in concreto?", "Il link non funziona"),
        "good": ("Grazie, ora funziona 👍", "Perfetto, grazie per la risposta veloce!",
                 "Ok grazie, vi ho scritto in privato", "Grazie mille 🙏"),
        "bad": ("Ancora niente…", "Ho già riavviato 3 volte, non cambia niente",
                "È la terza volta che me lo dite", "E il rimborso?"),
    },
    "en": {
        "unanswered": ("That doesn't really answer my question…", "Yes but what exactly?", "The link doesn't work", "Already checked the website, nothing there"),
        "good": ("Thanks, working again 👍", "Great, thanks for the quick reply!",
                 "Ok thanks, DM sent", "Perfect, thank you 🙏", "Ah ok, thanks!"),
        "bad": ("Still nothing…", "Already restarted 3 times, no change",
                "Third time I've been told that", "And the refund?",
                "DM sent 2 hours ago, no answer"),
    },
}

# Posts from the brand's main account (outbound, not replies).
BRAND_POSTS = {
    "fr": ("La 5G+ arrive à {city} ce mois-ci ! Plus d'infos : {help} #5G",
           "Nouveau : le {plan} avec données illimitées en Europe. {help}",
           "Bonne nouvelle pour {city} : la fibre 10 Gbit/s est disponible. #fibre"),
    "de": ("5G+ startet diesen Monat in {city}! Mehr dazu: {help} #5G",
           "Neu: das {plan} mit unlimitierten Daten in Europa. {help}",
           "Gute Nachricht für {city}: Glasfaser mit 10 Gbit/s ist verfügbar. #Glasfaser"),
    "it": ("Il 5G+ arriva a {city} questo mese! Info: {help} #5G",
           "Novità: il {plan} con dati illimitati in Europa. {help}"),
    "en": ("5G+ is live in {city} this month! More: {help} #5G",
           "New: the {plan} with unlimited data across Europe. {help}"),
}

AGENTS = ("^LM", "^SB", "^CR", "^MK", "^AF", "^JP", "^TG", "^NV", "^RB", "^EZ")
