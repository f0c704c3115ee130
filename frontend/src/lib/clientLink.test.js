import { describe, expect, it } from 'vitest'

import { tokenFromFragment } from './clientLink.js'

describe('tokenFromFragment', () => {
  it.each([
    ['#token=a.b.c', 'a.b.c'],
    ['#token=a%2Eb&x=1', 'a.b'],
    ['token=abc', 'abc'],
    ['#token=', null],
    ['#other=1', null],
    ['', null],
    [undefined, null],
  ])('%j -> %j', (hash, token) => {
    expect(tokenFromFragment(hash)).toBe(token)
  })
})
