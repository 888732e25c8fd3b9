// vitest 5 declares Node >= 22.12. The tests run on Node 20 (the library's floor), but when vitest prints a
// failure its reporter calls Map.groupBy (Node 21) and the failure's details are lost in a TypeError: this is
// the one function it was seen to miss.
if (typeof Map.groupBy !== "function") {
  Map.groupBy = (items, keyOf) => {
    const groups = new Map()
    let index = 0
    for (const item of items) {
      const key = keyOf(item, index++)
      const group = groups.get(key)
      if (group === undefined) groups.set(key, [item])
      else group.push(item)
    }
    return groups
  }
}
