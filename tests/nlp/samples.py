"""Short texts written for these tests (not taken from any data set)."""

# (text, language)
LANGUAGE_SAMPLES = [
    ("Bonjour, je voudrais savoir pourquoi ma commande n'est toujours pas arrivée.", "fr"),
    ("Merci beaucoup pour votre aide, le problème est enfin résolu !", "fr"),
    ("Le service client ne répond jamais au téléphone, c'est vraiment pénible.", "fr"),
    ("Guten Tag, meine Bestellung ist seit zwei Wochen nicht angekommen.", "de"),
    ("Vielen Dank für die schnelle Hilfe, jetzt funktioniert alles wieder.", "de"),
    ("Warum ist die Hotline am Wochenende nicht erreichbar?", "de"),
    ("Buongiorno, il mio ordine non è ancora arrivato e nessuno mi risponde.", "it"),
    ("Grazie mille per l'aiuto, adesso funziona tutto perfettamente.", "it"),
    ("Il servizio clienti è davvero pessimo, aspetto da una settimana.", "it"),
    ("Hello, my order still hasn't arrived and nobody answers my emails.", "en"),
    ("Thank you so much for the quick help, everything works again.", "en"),
    ("Why is the support line closed every single weekend?", "en"),
    ("Hola, mi pedido todavía no ha llegado y nadie me responde.", "es"),
    ("Olá, a minha encomenda ainda não chegou e ninguém me responde.", "pt"),
]

UND_SAMPLES = ["", "ok", "😀😀😀", "   ", "\n\t", "!!!", "12345", "@someone http://example.com", "👍"]

NEGATIVE_SAMPLES = [
    "This is the worst service I have ever had, absolutely terrible and useless.",
    "I hate this app, it keeps crashing and support is awful.",
    "C'est vraiment nul, le pire service client que j'ai jamais vu.",
    "Das ist der schlechteste Service überhaupt, total enttäuschend.",
    "Servizio pessimo, sono davvero deluso e arrabbiato.",
]

POSITIVE_SAMPLES = [
    "I love this, thank you so much, you are amazing! 😍",
    "Great job, the new update is awesome and works perfectly!",
    "Merci beaucoup, c'est génial, j'adore !",
    "Ich liebe es, das ist toll, danke schön!",
    "Grazie mille, siete fantastici, lo adoro!",
]

COMPLAINT_SAMPLES = [
    "@airline my flight was cancelled and nobody at the desk will help, been waiting 4 hours #fail",
    "@telco my internet has been down for three days and your support keeps hanging up on me",
]
NOT_COMPLAINT_SAMPLES = [
    "Enter now to win a free phone! #contest",
    "Watching the game tonight with friends",
]

ABUSIVE_SAMPLES = ["you are a fucking idiot, shut up you stupid bitch"]
CLEAN_SAMPLES = ["Have a lovely weekend everyone, see you on Monday"]

# For comparing the batch identifier with py3langid itself: varied lengths, scripts, case.
LANGID_AGREEMENT_TEXTS = [t for t, _ in LANGUAGE_SAMPLES] + [
    "",
    "a",
    "ok",
    "MERCI BEAUCOUP POUR TOUT",
    "Ein Satz. Une phrase. Una frase. A sentence.",
    "Привет, как дела?",
    "こんにちは、元気ですか",
    "مرحبا كيف حالك",
    "नमस्ते आप कैसे हैं",
    "😀😀😀 🎉",
    "null\x00byte",
    "lone \ud800 surrogate",
    "Zürich Straße café naïve",
    "x" * 3000,
    "Le chat est sur la table. " * 120,
    "Der Hund schläft im Garten. " * 40,
    "http://example.com/path?q=1 @someone #hashtag",
]
