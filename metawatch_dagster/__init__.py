"""metawatch: World of Warcraft Mythic+ leaderboards as trustworthy weekly numbers."""
