import { describe, expect, it } from 'vitest'

import { activityType, describeActivity, readableActivity } from './activityFilter.js'

const status = (message) => ({ type: 'status', message })

describe('describeActivity: the seed rules', () => {
  it.each([
    ['creating s3 bucket', 'Creating storage bucket...'],
    ['Creating S3 bucket...', 'Creating storage bucket...'],
    ['s3 bucket created', 'Storage bucket ready'],
    ['creating cloudfront', 'Setting up CDN...'],
    ['Creating CloudFront distribution...', 'Setting up CDN...'],
    ['cloudfront created', 'CDN configured'],
    ['npm install', 'Installing dependencies...'],
    ['Running npm ci', 'Installing dependencies...'],
    ['npm run build', 'Building project...'],
    ['deployment complete', 'Deployment complete!'],
    ['Deployment is complete.', 'Deployment complete!'],
  ])('%j -> %j', (message, text) => {
    expect(describeActivity(status(message))).toMatchObject({ text })
    expect(describeActivity(status(message)).hidden).toBeUndefined()
  })

  it('marks a finished deployment as a success', () => {
    expect(describeActivity(status('deployment complete')).tone).toBe('success')
  })

  it.each([
    '{"s3_bucket":"tmux-abc123-teashop-20260204-113827","cloudfront_id":"E1X"}',
    '{"cloudfront_url": "https://d111.cloudfront.net", "region": "us-east-1"}',
    '[{"Bucket": "tmux-abc123-site"}]',
    '{"s3_bucket": "tmux-abc123-te',
    's3_bucket=tmux-abc123-site',
    'cloudfront_id: E2QWRUHAPOMQZL',
    'Using region us-east-1',
    'bucket lives in eu-west-2',
    'Reading prompts/create_plan-abc_sess_1-a0.txt',
    'Wrote summary-generate_code-abc_sess_1-a0.md',
  ])('hides raw infrastructure output %j', (message) => {
    expect(describeActivity(status(message))).toEqual({ text: '', hidden: true })
  })

  it.each([
    ['75', '75%', 75],
    ['75%', '75%', 75],
    [' 0 ', '0%', 0],
    ['100', '100%', 100],
    ['150', '100%', 100],
    ['33.6', '34%', 34],
  ])('progress %j -> %j', (message, text, progress) => {
    expect(describeActivity({ type: 'progress', message })).toEqual({ text, progress, tone: 'info' })
  })

  it('shows a progress message that is not a number as text, and hides an empty one', () => {
    expect(describeActivity({ type: 'progress', message: 'half way' })).toEqual({ text: 'half way', tone: 'info' })
    expect(describeActivity({ type: 'progress', message: '' }).hidden).toBe(true)
  })
})

describe('describeActivity: by type', () => {
  it('says Complete for a bare done, and keeps a done message', () => {
    expect(describeActivity({ type: 'done', message: '' })).toEqual({ text: 'Complete', tone: 'success' })
    expect(describeActivity({ type: 'done', message: 'Your site is live at http://x.test' })).toEqual({
      text: 'Your site is live at http://x.test',
      tone: 'success',
    })
  })

  it('shows errors as they are, but never raw JSON in them', () => {
    expect(describeActivity({ type: 'error', message: 'Failed to deploy' })).toEqual({
      text: 'Failed to deploy',
      tone: 'error',
    })
    expect(describeActivity({ type: 'error', message: '{"region":"us-east-1","Error":"x"}' })).toEqual({
      text: 'Something went wrong in this step.',
      tone: 'error',
    })
    expect(describeActivity({ type: 'error', message: '' }).text).toBe('Something went wrong.')
  })

  it('hides acknowledgements and empty messages', () => {
    expect(describeActivity({ type: 'ack', message: 'prompt received' }).hidden).toBe(true)
    expect(describeActivity(status('   ')).hidden).toBe(true)
  })

  it('says the site is deployed instead of the raw URL event', () => {
    expect(describeActivity({ type: 'deployed', message: 'http://127.0.0.1:4000' })).toEqual({
      text: 'Your site is deployed.',
      tone: 'success',
    })
  })

  it('keeps the AI summaries, as markdown', () => {
    expect(describeActivity({ type: 'summary', message: ' Wrote **plan.md** ' })).toEqual({
      text: 'Wrote **plan.md**',
      tone: 'info',
      markdown: true,
    })
  })

  it('strips the bucket name from an upload line', () => {
    expect(describeActivity(status('Uploading 3 files to tmux-18e00635b8b5-tea-shop-b6a74f'))).toEqual({
      text: 'Uploading 3 files...',
      tone: 'info',
    })
  })

  it('names the CDN instead of the distribution id', () => {
    expect(describeActivity(status('Created CloudFront distribution E2QWRUHAPOMQZL')).text).toBe('CDN configured')
    expect(describeActivity(status('Created bucket tmux-18e00635b8b5-tea-shop')).text).toBe('Storage bucket ready')
  })

  it('passes ordinary progress through unchanged', () => {
    expect(describeActivity(status('Writing code/index.html'))).toEqual({ text: 'Writing code/index.html', tone: 'info' })
    expect(describeActivity(status('All 8 end-to-end tests passed')).text).toBe('All 8 end-to-end tests passed')
  })

  it('reads the WebSocket field name (activity_type) and defaults to status', () => {
    expect(activityType({ activity_type: 'PROGRESS' })).toBe('progress')
    expect(activityType({})).toBe('status')
    expect(describeActivity({ activity_type: 'progress', message: '40' }).text).toBe('40%')
    expect(describeActivity({ message: 'npm install' }).text).toBe('Installing dependencies...')
    expect(describeActivity(null).hidden).toBe(true)
  })
})

describe('readableActivity', () => {
  it('drops hidden lines, folds repeats in a row, and keeps time and step', () => {
    const lines = readableActivity([
      { at: 't5', type: 'status', step: 'deploy', message: 'Created CloudFront distribution E1' },
      { at: 't4', type: 'status', step: 'deploy', message: 'creating cloudfront invalidation' },
      { at: 't3', type: 'status', step: 'deploy', message: 'creating cloudfront' },
      { at: 't2', type: 'status', step: 'deploy', message: '{"s3_bucket":"tmux-x"}' },
      { at: 't1', type: 'progress', step: 'deploy', message: '50' },
    ])
    expect(lines).toEqual([
      { text: 'CDN configured', tone: 'info', at: 't5', step: 'deploy' },
      { text: 'Setting up CDN...', tone: 'info', at: 't4', step: 'deploy' },
      { text: '50%', tone: 'info', progress: 50, at: 't1', step: 'deploy' },
    ])
    expect(readableActivity(undefined)).toEqual([])
  })
})
