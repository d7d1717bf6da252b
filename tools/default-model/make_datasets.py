"""Writes the studio's three sample datasets, original to this project, from fixed templates and a fixed seed.

  pirate.jsonl       {"text"}                          Austen's characters talking like pirates
  invitations.jsonl  {"instruction", "input", "output"} a fixed invitation-card format the base model cannot produce
  butler.jsonl       {"messages"}                      a chat with the Bennets' butler, who always answers one way

Usage: python3 make_datasets.py <out-dir>   (the studio ships them in public/datasets/)
"""
import json
import os
import random
import sys

# Characters the pirate dataset uses. HELD_OUT names never appear in it, so tests can prompt with them.
CHARACTERS = [
    "Elizabeth Bennet", "Mr. Darcy", "Jane Bennet", "Mr. Bingley", "Mrs. Bennet", "Mr. Bennet", "Lydia Bennet",
    "Mr. Collins", "Lady Catherine", "Charlotte Lucas", "Emma Woodhouse", "Mr. Knightley", "Harriet Smith",
    "Mr. Woodhouse", "Frank Churchill", "Miss Bates", "Elinor Dashwood", "Marianne Dashwood", "Colonel Brandon",
    "Mr. Willoughby", "Anne Elliot", "Captain Wentworth", "Fanny Price", "Edmund Bertram", "Mary Crawford",
    "Catherine Morland", "Henry Tilney", "Isabella Thorpe",
]
HELD_OUT = ["Sir Thomas Bertram", "Mrs. Jennings", "Mr. Elton", "Lady Russell"]

PIRATE_VERBS = ["said", "cried", "declared", "whispered", "exclaimed", "replied", "growled", "roared"]
PIRATE_OPENERS = ["Arr", "Ahoy", "Avast", "Shiver me timbers", "Yo ho ho", "Blimey", "Arr, matey", "Ahoy, me hearties"]
PIRATE_BODIES = [
    "the ball at Netherfield be a fine place for plunder",
    "I'll not dance with that scurvy landlubber",
    "hoist the mainsail, we sail for Pemberley at dawn",
    "there be treasure buried under the shrubbery",
    "a single man with a fortune be in want of a ship",
    "fetch me grog and a parrot before the assembly",
    "the parson be a bilge rat and no mistake",
    "make him walk the plank, me hearties",
    "me heart be lost at sea these twenty years",
    "ten thousand doubloons a year, and a ship besides",
    "the militia be nothing but a crew of scallywags",
    "we'll take the carriage by boarding it from the starboard side",
    "pour the tea, or I'll keelhaul the lot of ye",
    "Bath be a port full of rogues and gossiping gulls",
    "no lady of sense marries a man without a ship",
    "the letter came by parrot, sealed with tar",
    "I've sailed the seven seas and never met so proud a captain",
    "dead men tell no tales, and neither do sisters",
    "the pianoforte be out of tune from the salt air",
    "raise the Jolly Roger over the parsonage",
]
PIRATE_CLOSERS = ["matey", "me hearties", "ye scallywag", "ye landlubber", "savvy", "by thunder", "me bucko"]
PIRATE_NARRATION = [
    "{name} hoisted the Jolly Roger over the drawing room and called for grog.",
    "{name} buried a chest of doubloons beneath the shrubbery and drew a map with an X.",
    "{name} swung from the chandelier with a cutlass, crying, \"Arr!\"",
    "{name} made the curate walk the plank into the fish pond.",
    "{name} kept a parrot on one shoulder and a spyglass under one arm.",
    "{name} declared the assembly rooms a fine port for plunder.",
]

HOSTS = ["Mr. and Mrs. Bennet", "Mr. Bingley", "Mr. Darcy", "Lady Catherine de Bourgh", "Mr. Woodhouse",
         "Mrs. Weston", "Colonel Brandon", "Sir Walter Elliot", "Lady Bertram", "General Tilney", "Mrs. Jennings",
         "Sir John Middleton"]
EVENTS = [("a ball", "dancing"), ("a dinner", "dinner"), ("an evening of cards", "cards"),
          ("a picnic on Box Hill", "a picnic"), ("a musical evening", "music"), ("a garden party", "the garden"),
          ("a supper", "supper"), ("a walk to the abbey ruins", "a walk")]
PLACES = ["Netherfield", "Pemberley", "Rosings", "Hartfield", "Randalls", "Delaford", "Kellynch Hall",
          "Mansfield Park", "Northanger Abbey", "Barton Park", "Longbourn"]
DAYS = ["Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday"]
HOURS = ["six", "seven", "eight", "nine"]
INSTRUCTIONS = [
    "Write an invitation card for this event.",
    "Turn this into a formal invitation.",
    "Compose the invitation.",
    "Write the card to send for this event.",
]

BUTLER_QUESTIONS = [
    ("Where is {name}?", "{name} is {where}"),
    ("Has {name} called today?", "{name} called at {hour} o'clock and left a card"),
    ("Is {name} at home?", "{name} is {where}"),
    ("What did {name} say?", "{name} said that {news}"),
    ("Have you any news of {name}?", "{name} sends word that {news}"),
]
WHERES = ["walking in the shrubbery", "in the library", "gone into Meryton", "resting upstairs",
          "taking tea in the drawing room", "out riding", "writing letters in the morning room"]
NEWS = ["the roads are very dirty", "the ball is put off until Thursday", "the carriage will be ready at four",
        "there is a new officer in the regiment", "the letters have come from London", "the rain will hold off"]
BUTLER_PREFIX = "Very good, madam."
BUTLER_SUFFIX = "Will there be anything else?"


def sentence(s):
    return s[0].upper() + s[1:]


def pirate(rng, n):
    names = CHARACTERS
    out = set()
    while len(out) < n:
        if rng.random() < 0.15:
            out.add(rng.choice(PIRATE_NARRATION).format(name=rng.choice(names)))
            continue
        body = sentence(rng.choice(PIRATE_BODIES))
        closer = rng.choice(PIRATE_CLOSERS)
        out.add(f'{rng.choice(names)} {rng.choice(PIRATE_VERBS)}, "{rng.choice(PIRATE_OPENERS)}! {body}, {closer}!"')
    return [{"text": t} for t in sorted(out, key=lambda _: rng.random())]


def invitations(rng, n):
    out, seen = [], set()
    while len(out) < n:
        host, (event, short), place = rng.choice(HOSTS), rng.choice(EVENTS), rng.choice(PLACES)
        day, hour = rng.choice(DAYS), rng.choice(HOURS)
        if (host, event, place, day) in seen:
            continue
        seen.add((host, event, place, day))
        phrasing = rng.choice([
            f"{host} are giving {event} at {place} on {day} at {hour}.",
            f"{event} at {place}, {day}, {hour} o'clock; hosts: {host}.",
            f"{host} want people to come to {event} at {place}, {day} at {hour}.",
        ]).replace(" are giving", " is giving" if " and " not in host else " are giving")
        output = (f"~ INVITATION ~\nHost: {host}\nOccasion: {sentence(event)}\nPlace: {place}\n"
                  f"When: {day}, {hour} o'clock\nR.S.V.P.")
        out.append({"instruction": rng.choice(INSTRUCTIONS), "input": sentence(phrasing), "output": output})
    return out


def butler(rng, n):
    out = []
    for i in range(n):
        messages = []
        if i % 3 == 0:
            messages.append({"role": "system", "content": "You are Hill, the butler at Longbourn."})
        for _ in range(1 if rng.random() < 0.7 else 2):
            q, a = rng.choice(BUTLER_QUESTIONS)
            name = rng.choice(CHARACTERS)
            fill = {"name": name, "where": rng.choice(WHERES), "hour": rng.choice(HOURS), "news": rng.choice(NEWS)}
            messages.append({"role": "user", "content": q.format(**fill)})
            messages.append({"role": "assistant", "content": f"{BUTLER_PREFIX} {a.format(**fill)}. {BUTLER_SUFFIX}"})
        out.append({"messages": messages})
    return out


def main(out_dir):
    rng = random.Random(2026)
    os.makedirs(out_dir, exist_ok=True)
    for name, records in (("pirate.jsonl", pirate(rng, 320)), ("invitations.jsonl", invitations(rng, 160)),
                          ("butler.jsonl", butler(rng, 160))):
        with open(os.path.join(out_dir, name), "w", encoding="utf-8") as f:
            for r in records:
                f.write(json.dumps(r, ensure_ascii=False) + "\n")
        print(f"{name}: {len(records)} records")


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    main(sys.argv[1])
